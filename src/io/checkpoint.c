/*
 * checkpoint.c - saving and resuming training.
 *
 * A checkpoint is a .bpm model file with two optional chunks added: "trnr",
 * the trainer's complete state (train.c encodes it), and "user", bytes the
 * caller keeps with it. Because both chunks are optional, every checkpoint is
 * also an ordinary model that eval and predict accept. Writing is atomic, like
 * every file the library writes, so a crash while saving leaves the previous
 * checkpoint intact.
 */
#include <stdlib.h>
#include <string.h>

#include "model_file.h"
#include "core/network.h"

#define MAX_CHECKPOINT_SIZE ((size_t)1 << 36)

bp_status bp_checkpoint_save(const bp_trainer *t, const char *path, const void *user, size_t user_len,
                             bp_error *err)
{
    if (!t || !path || (!user && user_len)) return bp_fail(err, BP_ERR_ARG, "no trainer or path given");
    const bp_net *net = bp_trainer_net(t);
    /* Never save a diverged state over a good checkpoint. */
    for (size_t i = 0; i < net->n_params; i++)
        if (!(net->params[i] - net->params[i] == 0.0f))
            return bp_fail(err, BP_ERR_NUMERIC, "%s not written: parameter %zu is not a finite number", path, i);
    bp_buffer state = {0};
    bp_trainer_encode(t, &state);
    bp_chunk extra[2] = {{{'t', 'r', 'n', 'r'}, state.data, state.len}, {{'u', 's', 'e', 'r'}, user, user_len}};
    bp_buffer file;
    bp_model_encode(net, extra, user ? 2 : 1, &file);
    bp_status s = state.failed || file.failed ? bp_fail(err, BP_ERR_NOMEM, "out of memory saving %s", path)
                                              : bp_write_file_atomic(path, file.data, file.len, err);
    bp_buffer_free(&state);
    bp_buffer_free(&file);
    return s;
}

bp_status bp_checkpoint_load(const char *path, bp_net **net_out, bp_trainer **trainer_out, void **user,
                             size_t *user_len, bp_error *err)
{
    if (!path || !net_out || !trainer_out) return bp_fail(err, BP_ERR_ARG, "no path or output given");
    *net_out = NULL;
    *trainer_out = NULL;
    if (user) *user = NULL;
    if (user_len) *user_len = 0;
    unsigned char *data = NULL;
    size_t size = 0;
    bp_status s = bp_read_file(path, MAX_CHECKPOINT_SIZE, &data, &size, err);
    if (s != BP_OK) return s;
    bp_chunk found[2] = {{{'t', 'r', 'n', 'r'}, NULL, 0}, {{'u', 's', 'e', 'r'}, NULL, 0}};
    bp_net *net = NULL;
    s = bp_model_decode(data, size, path, &net, found, 2, err);
    if (s == BP_OK && !found[0].data)
        s = bp_fail(err, BP_ERR_FORMAT, "%s: a model, not a checkpoint: it holds no training state "
                                        "(checkpoints are written by train --checkpoint)", path);
    bp_trainer *t = NULL;
    if (s == BP_OK) {
        char why[200];
        s = bp_trainer_decode(net, found[0].data, found[0].len, &t, why, sizeof why);
        if (s != BP_OK)
            bp_fail(err, s, "%s: byte %zu: %s", path, (size_t)((const unsigned char *)found[0].data - data), why);
    }
    if (s == BP_OK && user && found[1].data) {
        *user = malloc(found[1].len ? found[1].len : 1);
        if (!*user) s = bp_fail(err, BP_ERR_NOMEM, "out of memory reading %s", path);
        else {
            memcpy(*user, found[1].data, found[1].len);
            if (user_len) *user_len = found[1].len;
        }
    }
    free(data);
    if (s != BP_OK) {
        bp_trainer_free(t);
        bp_net_free(net);
        return s;
    }
    *net_out = net;
    *trainer_out = t;
    return BP_OK;
}
