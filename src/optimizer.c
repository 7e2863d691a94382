/*
 * optimizer.c - gradient descent and momentum over the flat parameter block.
 *
 * Because every W and b lives in one block with a gradient block of the same
 * layout, an optimizer needs no knowledge of layers at all.
 */
#include "optimizer.h"

void bp_sgd_update(float *params, const float *grads, float *velocity, size_t n, float lr,
                   float momentum)
{
    if (!velocity || momentum == 0.0f) {
        for (size_t i = 0; i < n; i++) params[i] -= lr * grads[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        velocity[i] = momentum * velocity[i] + grads[i];
        params[i] -= lr * velocity[i];
    }
}
