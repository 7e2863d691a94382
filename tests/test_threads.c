/*
 * test_threads.c - no global mutable state: two networks trained at the same time
 * in two threads end bitwise the same as when trained one after the other.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "test.h"

typedef struct {
    bp_train_config tc;
    size_t hidden, batch;
    float params[4096];
    size_t n;
    int ok;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    size_t sizes[] = {6, j->hidden, 3};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 7, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_dataset *d = NULL;
    j->ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_dataset_create(600, 6, 3, &d) == BP_OK &&
            bp_trainer_create(net, &j->tc, &t) == BP_OK;
    if (j->ok) {
        unsigned long long s = 3;
        for (size_t i = 0; i < 600; i++) {
            float sum = 0;
            for (int k = 0; k < 6; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                float v = (float)((s >> 40) & 0xFFFF) / 65536.0f;
                bp_dataset_x(d)[i * 6 + k] = v;
                sum += v * (float)(k - 2);
            }
            bp_dataset_y(d)[i * 3 + (sum > 1 ? 2 : sum > -1 ? 1 : 0)] = 1;
        }
        for (int e = 0; e < 5 && j->ok; e++) j->ok = bp_trainer_epoch(t, d, NULL) == BP_OK;
        j->n = bp_net_param_count(net);
        memcpy(j->params, bp_net_params(net), j->n * sizeof(float));
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
    return NULL;
}

void test_two_networks_in_two_threads(void)
{
    job *jobs = calloc(4, sizeof(job));
    if (!jobs) return;
    /* Different optimizers, batch sizes and paths (GEMM, tiny-network) on purpose. */
    jobs[0].tc = (bp_train_config){.learning_rate = 0.05, .optimizer = BP_OPT_ADAM, .batch_size = 16, .seed = 1};
    jobs[0].hidden = 40;
    jobs[1].tc = (bp_train_config){.learning_rate = 0.1, .batch_size = 1, .seed = 2};
    jobs[1].hidden = 8;
    jobs[2] = jobs[0];
    jobs[3] = jobs[1];
    pthread_t a, b;
    int started = pthread_create(&a, NULL, run_job, &jobs[0]) == 0;
    started = started && pthread_create(&b, NULL, run_job, &jobs[1]) == 0;
    CHECK(started, "threads start");
    if (started) {
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    }
    run_job(&jobs[2]); /* one after the other, in this thread */
    run_job(&jobs[3]);
    for (int k = 0; k < 2; k++) {
        CHECK(jobs[k].ok && jobs[k + 2].ok, "job %d ran", k);
        CHECK(jobs[k].n == jobs[k + 2].n && memcmp(jobs[k].params, jobs[k + 2].params, jobs[k].n * sizeof(float)) == 0,
              "job %d: the same bits in a thread and alone", k);
    }
    free(jobs);
}
