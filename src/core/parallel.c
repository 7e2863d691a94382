/*
 * parallel.c - the data-parallel gradient (see parallel.h).
 *
 * Local gradients are sums already divided by the global batch m for a mean, so
 * adding the processes' blocks gives the batch's gradient with no pass of its own.
 * The batch's summed loss rides along in the gradient block's spare slot
 * (network.h), so one sum carries both and nothing is copied: one allreduce after
 * the backward pass, or (allreduce_start) one per piece of each layer, started by
 * the backward pass's hook as soon as the piece is written.
 */
#include <math.h>

#include "network.h"
#include "parallel.h"
#include "passes.h"

/* An overlapped step's gradient hook: start summing a finished piece of the block
   (the top layer's last piece runs on into the loss slot, set here). */
typedef struct {
    bp_net *net;
    const bp_train_config *config;
    const double *loss;
} overlap;

static int start_piece(void *context, float *values, size_t n)
{
    overlap *o = context;
    bp_net *net = o->net;
    if (values + n == net->grads + net->n_params) {
        net->grads[net->n_params] = (float)*o->loss;
        n++;
    }
    return o->config->allreduce_start(o->config->allreduce_context, values, n);
}

bp_status bp_parallel_gradient(bp_net *net, const bp_train_config *c, const float *x, const float *y,
                               size_t local_m, size_t m, double *loss)
{
    const size_t n = net->n_params;
    const float scale = c->reduction == BP_REDUCE_SUM ? 1.0f : 1.0f / (float)m;
    double local_loss = 0.0;
    overlap o = {net, c, &local_loss};
    const bp_gradient_hook hook = {start_piece, &o}, *h = c->allreduce_start ? &hook : NULL;
    /* A local NaN is not an error yet: every process must take part in the sums. */
    bp_status s = local_m > 0 ? bp_net_backward_scaled(net, x, y, local_m, scale, &local_loss, h)
                              : bp_net_zero_gradient(net, h);
    if (c->allreduce_start) {
        /* Wait even after a failure: a sum may still be writing into the block. */
        if (c->allreduce_wait(c->allreduce_context) != 0 && (s == BP_OK || s == BP_ERR_NUMERIC)) s = BP_ERR_IO;
        if (s != BP_OK && s != BP_ERR_NUMERIC) return s;
    } else {
        if (s != BP_OK && s != BP_ERR_NUMERIC) return s;
        net->grads[n] = (float)local_loss;
        if (c->allreduce(c->allreduce_context, net->grads, n + 1) != 0) return BP_ERR_IO;
    }
    *loss = (double)net->grads[n] * (double)scale;
    return isfinite(*loss) ? BP_OK : BP_ERR_NUMERIC;
}
