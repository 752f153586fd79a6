/* Shared scaffolding of the core's unit tests (cmocka). */
#ifndef ACME_UNIT_H
#define ACME_UNIT_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_pools.h>
#include "acme_core.h"

/* Each test gets a fresh pool in *state. */
static inline int unit_setup(void **state)
{
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    *state = p;
    return 0;
}

static inline int unit_teardown(void **state)
{
    apr_pool_destroy((apr_pool_t *)*state);
    return 0;
}

static inline int unit_init(void)
{
    return apr_initialize() == APR_SUCCESS ? 0 : 1;
}

#define UNIT_TEST(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
#endif
