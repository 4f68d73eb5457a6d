// image: references, manifests, configs, --change, inspect output.
#include <doctest/doctest.h>
