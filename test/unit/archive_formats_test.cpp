// Unit tests for the archive formats (placeholder until the tests land).
#include <doctest/doctest.h>

TEST_CASE("archive formats: placeholder") { CHECK(true); }
