/*
 * test_set_threads.c - bp_net_set_threads, natively and in WebAssembly (it is in
 * web/unit-tests.txt): bad counts are refused and leave the setting alone, and a
 * build without threads says so instead of reporting a shortage of memory.
 */
#include <string.h>

#include "backprop.h"
#include "test.h"

void test_net_set_threads(void)
{
    size_t sizes[] = {4, 8, 2};
    bp_net_config nc = {2, sizes, BP_ACT_TANH, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 1, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&nc, &net, NULL) == BP_OK, "net");
    if (!net) return;
    bp_error err;
    CHECK(bp_net_threads(net) == 1, "a new net has %d threads", bp_net_threads(net));
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
    /* No threads in this build: more than one is a setting it does not support. */
    CHECK(bp_net_set_threads(net, 3, &err) == BP_ERR_UNSUPPORTED && strstr(err.message, "one thread"),
          "3 threads without threads: %s", err.message);
    CHECK(bp_net_threads(net) == 1, "a refused count changed the setting");
#else
    /* 0 is one per core; going back to 1 works. */
    CHECK(bp_net_set_threads(net, 3, &err) == BP_OK && bp_net_threads(net) == 3, "3 threads");
    CHECK(bp_net_set_threads(net, 100000, &err) == BP_ERR_ARG, "100000 threads accepted");
    CHECK(bp_net_threads(net) == 3, "a refused count changed the setting");
    CHECK(bp_net_set_threads(net, 0, &err) == BP_OK && bp_net_threads(net) == bp_default_threads(),
          "0 threads: %d, default %d", bp_net_threads(net), bp_default_threads());
#endif
    CHECK(bp_net_set_threads(net, -1, &err) == BP_ERR_ARG && strstr(err.message, "threads"),
          "-1 threads: %s", err.message);
    CHECK(bp_net_set_threads(net, 1, &err) == BP_OK && bp_net_threads(net) == 1, "back to 1");
    bp_net_free(net);
}
