/* The same checks as header_test.c, compiled as C++17: the header must work from C++ too. */
#include "header_test.c"
