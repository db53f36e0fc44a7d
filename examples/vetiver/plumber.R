# A vetiver-shaped model API (the endpoints vetiver::vetiver_api() serves)
# around a linear model of fuel economy trained on R's own mtcars data:
#
#   GET  /ping       is the API up?
#   GET  /metadata   what the model is and what it needs
#   POST /predict    a JSON data frame (an array of records) -> .pred per row
#
# Serve it with valved:   valved -f examples/vetiver/plumber.R -n 4
# or from R:              valve::valve_run("examples/vetiver/plumber.R", n_max = 4)
#
#   curl -X POST -H 'Content-Type: application/json' \
#     -d '[{"wt": 2.62, "hp": 110, "cyl": 6}, {"wt": 3.44, "hp": 175, "cyl": 8}]' \
#     http://127.0.0.1:3000/predict

model <- lm(mpg ~ wt + hp + cyl, data = mtcars)
predictors <- c("wt", "hp", "cyl")

#* Is the API up?
#* @get /ping
#* @serializer unboxedJSON
function() {
  list(status = "online", time = format(Sys.time(), "%Y-%m-%d %H:%M:%S"))
}

#* What the model is and what a prediction needs.
#* @get /metadata
#* @serializer unboxedJSON
function() {
  list(
    model = "lm",
    formula = paste(deparse(formula(model)), collapse = ""),
    trained_on = "mtcars",
    n = nrow(mtcars),
    coefficients = as.list(coef(model)),
    ptype = lapply(mtcars[0, predictors], class),
    required_pkgs = list("stats")
  )
}

#* Predicts mpg for each row of a JSON data frame.
#* @post /predict
#* @parser json
#* @serializer json
function(req, res) {
  newdata <- req$body
  if (!is.data.frame(newdata)) newdata <- tryCatch(as.data.frame(newdata), error = function(e) NULL)
  missing <- setdiff(predictors, names(newdata))
  if (is.null(newdata) || nrow(newdata) == 0L || length(missing) > 0L) {
    res$status <- 400
    return(list(error = paste0("the body must be a JSON array of records with ",
                               paste(predictors, collapse = ", "),
                               if (length(missing)) paste0("; missing: ", paste(missing, collapse = ", ")) else "")))
  }
  if (!all(vapply(newdata[predictors], is.numeric, TRUE))) {
    res$status <- 400
    return(list(error = "wt, hp and cyl must be numbers"))
  }
  data.frame(.pred = unname(predict(model, newdata[predictors])))
}
