#include "master/child_state.h"
