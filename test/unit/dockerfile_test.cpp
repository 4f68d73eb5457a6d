// dockerfile: parser, expansion, ARG scoping, stages, .dockerignore.
#include <doctest/doctest.h>

#include "dockerfile/parser.hpp"

using namespace kiln;
using namespace kiln::dockerfile;

TEST_CASE("placeholder") { CHECK(parse_syntax("FROM a\n").instructions.size() == 1); }
