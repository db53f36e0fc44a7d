# valved in a container: Debian 12 slim, the Debian package, a non-root user
# (valve, uid and gid 990).
#
#   docker build -t valved .
#   docker run --rm -p 3000:3000 -v "$PWD/my-api:/srv/valved:ro" valved
#
# The API: a plumber API directory (plumber.R or entrypoint.R) at /srv/valved,
# mounted as above or copied in by an image built FROM this one (see
# docs/CONTAINERS.md, which also covers renv). /etc/valve.yaml is
# deploy/kubernetes/valve.yaml; arguments after the image name are valved
# flags that override it (docker run valved -n 8). The status listener
# (/livez, /readyz, /metrics) is on port 3001.
#
# The first stage builds the package from this tree (scripts/build-deb.sh, the
# same as CI); the second installs it. scripts/test-dockerfile.sh runs the
# second stage's RUN commands as a script in a systemd-nspawn container of
# Debian 12, then its ENTRYPOINT and HEALTHCHECK (no container engine there).

FROM debian:12 AS deb
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      debhelper libevent-dev libpoco-dev libyaml-cpp-dev libhttp-parser-dev
COPY . /src
RUN /src/scripts/build-deb.sh /deb

FROM debian:12-slim
WORKDIR /tmp/valved
COPY --from=deb /deb/valved_*.deb ./
COPY deploy/kubernetes/valve.yaml ./
# The package's postinst would create valve with the next free system uid;
# created first with a fixed one, USER below and Kubernetes' runAsUser can
# name it by number (runAsNonRoot cannot check a user name).
RUN useradd --system --uid 990 --user-group --home-dir /var/lib/valved --no-create-home \
      --shell /usr/sbin/nologin valve \
 && apt-get update \
 && apt-get install -y --no-install-recommends ./valved_*.deb curl \
 && install -m 0644 valve.yaml /etc/valve.yaml \
 && install -d -m 0755 /srv/valved \
 && rm -rf /var/lib/apt/lists/* /tmp/valved
WORKDIR /srv/valved
USER 990:990
EXPOSE 3000 3001
# valved's graceful stop: in-flight requests finish within graceful_timeout.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD curl -fsS -o /dev/null http://127.0.0.1:3001/readyz || exit 1
ENTRYPOINT ["/usr/sbin/valved", "-c", "/etc/valve.yaml"]
