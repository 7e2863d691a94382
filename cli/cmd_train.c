/*
 * cmd_train.c - `backprop train`: read the data, build the network, run the
 * library's trainer epoch after epoch, report, and save the model.
 *
 * Everything a run needs is checked before the first epoch (options, output
 * paths, data), so a typo never costs a long training run. The loop itself
 * is short: bp_trainer_epoch, evaluation, one line of report, early stopping.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "io/bytes.h"

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "data.h"
#include "history.h"
#include "json.h"
#include "log.h"
#include "mpi.h"
#include "plot.h"
#include "progress.h"
#include "threads.h"

static const cli_option train_options[] = {
    {"train", "FILE", "training data: CSV, IDX images (with --labels) or FANN text (required)"},
    {"labels", "FILE", "IDX labels for --train"},
    {"test", "FILE", "held-out data in the same layout, evaluated after every epoch"},
    {"test-labels", "FILE", "IDX labels for --test"},
    {"format", "FMT", "data format: auto (default: from the file), csv, idx or fann"},
    {"targets", "N|class", "class (default): last CSV column is a class (number or name);"
                           " N: the last N columns are real values"},
    {"hidden", "N1,N2,...", "hidden layer widths (default 32; --hidden none for no hidden layer)"},
    {"activation", "NAME", "hidden activation: identity, sigmoid, tanh, relu (default), leaky-relu"},
    {"output", "NAME", "output activation (default: softmax for ce, sigmoid for bce, identity for mse)"},
    {"loss", "NAME", "ce (default for classes), mse (default for values) or bce"},
    {"no-bias", NULL, "layers without biases (z = W a)"},
    {"optimizer", "NAME", "sgd (default), momentum, nesterov, adam, adamw or rprop (full batch)"},
    {"lr", "ETA", "learning rate (default 0.1; 0.001 for adam and adamw)"},
    {"momentum", "MU", "momentum for momentum/nesterov (default 0.9); with sgd, turns momentum on"},
    {"weight-decay", "L", "L2 penalty on all weights and biases (decoupled for adamw; default 0)"},
    {"clip", "NORM", "rescale each step's gradient to at most this 2-norm (default: no clipping)"},
    {"schedule", "NAME", "learning-rate schedule: constant (default), step or cosine"},
    {"step-epochs", "N", "step schedule: epochs between decays (default 10)"},
    {"gamma", "G", "step schedule: decay factor (default 0.1)"},
    {"min-lr", "ETA", "cosine schedule: final learning rate (default 0)"},
    {"warmup", "EPOCHS", "linear learning-rate warm-up over this many epochs (default 0)"},
    {"batch", "M", "samples per step: 1 = per-sample, 0 = full batch (default 32)"},
    {"epochs", "N", "passes over the training data (default 10)"},
    {"reduction", "NAME", "mean (default) or sum of the per-sample gradients in a batch"},
    {"validation", "FRACTION", "hold out this fraction of the training data (shuffled with --seed)"},
    {"early-stop", "PATIENCE", "stop after this many epochs without a better validation loss, and"
                               " keep the best weights (uses --validation, 0.1 if not given)"},
    {"normalize", "HOW", "input preprocessing from the training set, stored in the model: none,"
                         " minmax (to [0,1]) or standardize (default none; IDX: divide by 255)"},
    {"input-scale", "K", "divide every input by K (e.g. 255 for pixels), stored in the model"},
    {"no-shuffle", NULL, "keep the file's order instead of reshuffling every epoch"},
    {"seed", "N", "seed for initialization, shuffling and the validation split (default 1)"},
    {"threads", "N", CLI_THREADS_HELP},
    {"device", "NAME", "cpu (default) or cuda: train on an NVIDIA GPU (a build with make CUDA=1;"
                       " sgd or momentum, constant learning rate)"},
    {"tf32", NULL, "with --device cuda: let cuBLAS use TF32 tensor cores (faster, less precise)"},
    {"mpi-timeout", "SECONDS", "under mpirun: end the job when a rank has not answered for this long,"
                               " naming it (default 300; 0 waits forever)"},
    {"checkpoint", "FILE", "save the whole training state here after every epoch (atomically);"
                           " also a valid model"},
    {"checkpoint-every", "STEPS", "also save the checkpoint every STEPS steps within an epoch"},
    {"resume", "FILE", "continue from a checkpoint: give the same data options; the network and"
                       " training settings come from the file, --epochs may grow"},
    {"log", "FILE", "write per-epoch metrics as CSV (rewritten after every epoch)"},
    {"plot", "FILE", "draw loss and accuracy curves as a standalone SVG"},
    {"quiet", NULL, "print only the final summary (no per-epoch lines, no progress bar)"},
    {"json", NULL, "one JSON object per epoch and one at the end instead of text"},
    {"o", "FILE", "save the trained model here (.bpm)"},
};

/* Everything the options say, parsed and checked before any data is read. */
typedef struct {
    size_t hidden[BP_MAX_LAYERS], n_hidden, epochs, patience, value_targets, checkpoint_every;
    double validation, input_scale, mpi_timeout;
    bp_normalize normalize;
    int normalize_given, json, quiet, threads, cuda, tf32;
    bp_net_config net;
    bp_train_config train;
    cli_format format;
} train_plan;

/* The directory of an output path must exist and be writable before training starts. */
static int check_writable(const cli_args *a, const char *option, const char *path)
{
    if (!path) return 0;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = (size_t)(slash - path);
        if (len >= sizeof dir) return cli_fail(a, EXIT_USAGE, "%s: path too long", path);
        memcpy(dir, path, len ? len : 1);
        dir[len ? len : 1] = '\0';
    }
    if (access(dir, W_OK) != 0)
        return cli_fail(a, EXIT_FAILED, "cannot write %s (%s %s): the directory %s does not exist or is not writable",
                        path, option, path, dir);
    return 0;
}

static int parse_plan(cli_args *a, train_plan *p)
{
    int code;
    memset(p, 0, sizeof *p);
    p->n_hidden = 1;
    p->hidden[0] = 32;
    p->epochs = 10;
    const char *hs = cli_get(a, "hidden");
    if (hs && strcmp(hs, "none") == 0)
        p->n_hidden = 0;
    else if (hs && (code = cli_size_list(a, "hidden", p->hidden, BP_MAX_LAYERS - 1, &p->n_hidden)))
        return code;
    const char *t = cli_get(a, "targets");
    if (t && strcmp(t, "class") != 0 &&
        (code = cli_size(a, "targets", 1, BP_MAX_WIDTH, &p->value_targets)))
        return code;
    if ((code = cli_net_config(a, &p->net, p->value_targets ? BP_LOSS_MSE : BP_LOSS_CE))) return code;

    bp_train_config *c = &p->train;
    c->batch_size = 32;
    const char *v;
    if ((v = cli_get(a, "optimizer")) && bp_optimizer_parse(v, &c->optimizer) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "unknown optimizer '%s' (sgd, momentum, nesterov, adam, adamw, rprop)", v);
    if ((v = cli_get(a, "schedule")) && bp_schedule_parse(v, &c->schedule) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "unknown schedule '%s' (constant, step, cosine)", v);
    if ((v = cli_get(a, "reduction")) && bp_reduction_parse(v, &c->reduction) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "--reduction expects mean or sum, got '%s'", v);
    if ((code = cli_double(a, "lr", 1e-12, 1e6, &c->learning_rate)) ||
        (code = cli_double(a, "momentum", 0, 0.999999, &c->momentum)) ||
        (code = cli_double(a, "weight-decay", 0, 1e3, &c->weight_decay)) ||
        (code = cli_double(a, "clip", 1e-12, 1e12, &c->clip_norm)) ||
        (code = cli_double(a, "step-epochs", 1e-6, 1e9, &c->step_epochs)) ||
        (code = cli_double(a, "gamma", 1e-12, 1e3, &c->gamma)) ||
        (code = cli_double(a, "min-lr", 0, 1e6, &c->min_lr)) ||
        (code = cli_double(a, "warmup", 0, 1e9, &c->warmup_epochs)) ||
        (code = cli_size(a, "batch", 0, (size_t)1 << 40, &c->batch_size)) ||
        (code = cli_size(a, "epochs", 1, 100000000, &p->epochs)) ||
        (code = cli_double(a, "validation", 1e-9, 0.999999, &p->validation)) ||
        (code = cli_size(a, "early-stop", 1, 100000000, &p->patience)) ||
        (code = cli_double(a, "input-scale", 1e-30, 1e30, &p->input_scale)) ||
        (code = cli_size(a, "checkpoint-every", 1, (size_t)1 << 40, &p->checkpoint_every)) ||
        (code = cli_threads(a, &p->threads)) ||
        (code = cli_double(a, "mpi-timeout", 0, 1e9, &p->mpi_timeout)))
        return code;
    if (!cli_get(a, "mpi-timeout")) p->mpi_timeout = 300;
    if ((v = cli_get(a, "device")) && strcmp(v, "cpu") != 0 && strcmp(v, "cuda") != 0)
        return cli_fail(a, EXIT_USAGE, "--device expects cpu or cuda, got '%s'", v);
    p->cuda = v && strcmp(v, "cuda") == 0;
    p->tf32 = cli_flag(a, "tf32");
    if (p->tf32 && !p->cuda) return cli_fail(a, EXIT_USAGE, "--tf32 needs --device cuda");
    if (p->checkpoint_every && !cli_get(a, "checkpoint"))
        return cli_fail(a, EXIT_USAGE, "--checkpoint-every needs --checkpoint FILE");
    c->no_shuffle = cli_flag(a, "no-shuffle");
    c->seed = p->net.seed;
    c->epochs = p->epochs;
    if (p->patience && p->validation == 0) p->validation = 0.1;
    if ((v = cli_get(a, "normalize"))) {
        p->normalize_given = 1;
        if (strcmp(v, "none") == 0) p->normalize = BP_NORMALIZE_NONE;
        else if (strcmp(v, "minmax") == 0) p->normalize = BP_NORMALIZE_MINMAX;
        else if (strcmp(v, "standardize") == 0) p->normalize = BP_NORMALIZE_STANDARDIZE;
        else return cli_fail(a, EXIT_USAGE, "--normalize expects none, minmax or standardize, got '%s'", v);
    }
    if (p->normalize_given && p->normalize != BP_NORMALIZE_NONE && p->input_scale)
        return cli_fail(a, EXIT_USAGE, "--normalize and --input-scale cannot be combined");
    if ((code = cli_parse_format(a, &p->format))) return code;
    p->json = cli_flag(a, "json");
    p->quiet = cli_flag(a, "quiet");
    /* Check the combination now, with a stand-in shape, so a bad pairing fails fast. */
    size_t probe[] = {1, 2};
    bp_net_config check = p->net;
    check.n_layers = 1;
    check.sizes = probe;
    bp_error err = {0};
    if (bp_net_config_check(&check, &err) != BP_OK) return cli_fail(a, EXIT_USAGE, "%s", err.message);
    bp_trainer *probe_trainer = NULL;
    bp_net *probe_net = NULL;
    if (bp_net_create(&check, &probe_net, NULL) == BP_OK) {
        bp_status s = bp_trainer_create(probe_net, c, &probe_trainer);
        bp_trainer_free(probe_trainer);
        bp_net_free(probe_net);
        if (s == BP_ERR_ARG) return cli_fail(a, EXIT_USAGE, "invalid combination of training options");
    }
    if ((code = check_writable(a, "--checkpoint", cli_get(a, "checkpoint"))) ||
        (code = check_writable(a, "-o", cli_get(a, "o"))) ||
        (code = check_writable(a, "--log", cli_get(a, "log"))) ||
        (code = check_writable(a, "--plot", cli_get(a, "plot"))))
        return code;
    return 0;
}

static int write_plot(const cli_args *a, const char *path, const train_history *h)
{
    plot_series s[5];
    size_t n = 0;
    s[n++] = (plot_series){"train loss", h->col[HISTORY_TRAIN_LOSS], h->n, 0};
    s[n++] = (plot_series){"validation loss", h->col[HISTORY_VAL_LOSS], h->n, 0};
    s[n++] = (plot_series){"test loss", h->col[HISTORY_TEST_LOSS], h->n, 0};
    s[n++] = (plot_series){"validation accuracy", h->col[HISTORY_VAL_ACCURACY], h->n, 1};
    s[n++] = (plot_series){"test accuracy", h->col[HISTORY_TEST_ACCURACY], h->n, 1};
    char why[256] = "";
    if (plot_write_svg(path, "backprop train", s, n, why, sizeof why) != 0)
        return cli_fail(a, EXIT_FAILED, "%s", why);
    return 0;
}

/* Set by SIGINT/SIGTERM; the training loop checks it after every step. (A program-level
   flag: the library itself keeps no global state.) */
static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int on_step(void *context, size_t done, size_t total)
{
    (void)total;
    progress_update(context, done);
    /* Under MPI every rank must stop at the same step, so interruptions are agreed on
       between epochs instead (see the epoch loop). */
    return interrupted != 0 && cli_mpi_size() == 1;
}

/* Whether any rank was interrupted (every rank learns the same answer). */
static int any_interrupted(void)
{
    return cli_mpi_any(interrupted != 0);
}

static int save_checkpoint(const cli_args *a, const bp_trainer *t, const char *path, const train_history *h)
{
    size_t len = 0;
    unsigned char *user = history_encode(h, &len);
    if (!user) return cli_fail(a, EXIT_FAILED, "out of memory");
    bp_error err = {0};
    bp_status s = bp_checkpoint_save(t, path, user, len, &err);
    free(user);
    return s == BP_OK ? 0 : cli_fail_status(a, s, &err, path);
}

static void print_metrics_json(const char *name, const bp_metrics *m)
{
    printf(",\"%s_loss\":", name);
    json_double(stdout, m->loss);
    if (m->accuracy >= 0) {
        printf(",\"%s_accuracy\":", name);
        json_double(stdout, m->accuracy);
    } else {
        printf(",\"%s_rmse\":", name);
        json_double(stdout, sqrt(m->mse));
    }
}

static void print_metrics_text(const char *name, const bp_metrics *m)
{
    printf("  %s%sloss %.4f", name, *name ? " " : "", m->loss);
    if (m->accuracy >= 0)
        printf("  %s%saccuracy %6.2f%%", name, *name ? " " : "", 100.0 * m->accuracy);
    else
        printf("  %s%srmse %.4g", name, *name ? " " : "", sqrt(m->mse));
}

static int run_train(cli_args *a)
{
    const char *train_path = cli_get(a, "train"), *test_path = cli_get(a, "test");
    const char *out_path = cli_get(a, "o"), *log_path = cli_get(a, "log"), *plot_path = cli_get(a, "plot");
    if (!train_path) return cli_fail(a, EXIT_USAGE, "--train FILE is required");
    if (cli_get(a, "test-labels") && !test_path)
        return cli_fail(a, EXIT_USAGE, "--test-labels needs --test");
    train_plan p;
    int code = parse_plan(a, &p);
    if (code) return code;

    bp_dataset *all = NULL, *train = NULL, *valid = NULL, *test = NULL;
    bp_net *net = NULL;
    bp_trainer *trainer = NULL;
    train_history h = {0};
    metrics_log log = {0};
    int log_open = 0;
    bp_error err = {0};
    bp_status s;

    /* ---- data: under mpirun, rank 0 reads and the others receive (only rank 0 needs
       the files; only rank 0 evaluates on --test) */
    int ranks = cli_mpi_size(), leader = cli_mpi_rank() == 0;
    cli_mpi_set_timeout(p.mpi_timeout);
    cli_data_request req = {train_path, cli_get(a, "labels"), p.format,
                            p.value_targets ? BP_TARGET_VALUES : BP_TARGET_CLASS, p.value_targets, 0, NULL};
    if ((code = cli_mpi_read_data(a, &req, &all))) goto done;
    if (bp_dataset_outputs(all) == 0) {
        code = cli_fail(a, EXIT_FAILED, "%s: no targets to train on", train_path);
        goto done;
    }
    size_t n_in = bp_dataset_inputs(all), n_out = bp_dataset_outputs(all);
    const char *names[65536];
    int named = bp_dataset_class_name(all, 0) != NULL && n_out <= 65536;
    for (size_t k = 0; named && k < n_out; k++) names[k] = bp_dataset_class_name(all, k);
    if (test_path && leader) {
        cli_data_request tr = {test_path, cli_get(a, "test-labels"), p.format, req.target,
                               p.value_targets, p.value_targets ? 0 : n_out, named ? names : NULL};
        if ((code = cli_read_data(a, &tr, &test))) goto done;
        if (bp_dataset_inputs(test) != n_in || bp_dataset_outputs(test) != n_out) {
            code = cli_fail(a, EXIT_FAILED, "%s: %zu inputs and %zu outputs per sample, but %s has %zu and %zu",
                            test_path, bp_dataset_inputs(test), bp_dataset_outputs(test), train_path, n_in, n_out);
            goto done;
        }
    }
    if (p.validation > 0) {
        s = bp_dataset_split(all, p.validation, p.net.seed ^ 0x5eed, &train, &valid);
        if (s != BP_OK) {
            code = cli_fail(a, EXIT_USAGE, "--validation %g leaves no samples on one side of %zu",
                            p.validation, bp_dataset_count(all));
            goto done;
        }
    } else {
        train = all;
        all = NULL;
    }

    /* ---- preprocessing: statistics from the training part only, stored in the model */
    float *shift = calloc(n_in, sizeof(float)), *scale = calloc(n_in, sizeof(float));
    int transform = 0;
    if (!shift || !scale) {
        free(shift), free(scale);
        code = cli_fail(a, EXIT_FAILED, "out of memory");
        goto done;
    }
    int idx = req.labels != NULL || (p.format == CLI_FORMAT_AUTO ? cli_detect_format(train_path) : p.format) == CLI_FORMAT_IDX;
    if (ranks > 1 && cli_mpi_bcast(&idx, sizeof idx) != 0) { /* rank 0 looked at the file */
        free(shift), free(scale);
        code = cli_fail(a, EXIT_FAILED, "rank %d: sharing the data format failed", cli_mpi_rank());
        goto done;
    }
    if (!p.input_scale && !p.normalize_given && idx) p.input_scale = 255; /* pixels to [0, 1] */
    if (p.input_scale) {
        for (size_t i = 0; i < n_in; i++) scale[i] = (float)(1.0 / p.input_scale);
        transform = 1;
    } else if (p.normalize != BP_NORMALIZE_NONE) {
        bp_dataset_input_stats(train, p.normalize, shift, scale);
        transform = 1;
    }
    if (transform) {
        bp_dataset_apply_transform(train, shift, scale);
        if (valid) bp_dataset_apply_transform(valid, shift, scale);
        if (test) bp_dataset_apply_transform(test, shift, scale);
    }

    /* ---- the network and the trainer: new, or where a checkpoint left them */
    const char *resume = cli_get(a, "resume"), *ckpt = cli_get(a, "checkpoint");
    progress bar = {0};
    size_t sizes[BP_MAX_LAYERS + 1];
    if (resume) {
        void *user = NULL;
        size_t user_len = 0;
        s = bp_checkpoint_load(resume, &net, &trainer, &user, &user_len, &err);
        if (s != BP_OK) {
            free(shift), free(scale);
            code = cli_fail_status(a, s, &err, resume);
            goto done;
        }
        const float *cs, *ck;
        int has = bp_net_get_input_transform(net, &cs, &ck);
        int same = bp_net_width(net, 0) == n_in && bp_net_width(net, bp_net_layer_count(net)) == n_out && has == transform;
        for (size_t i = 0; same && has && i < n_in; i++) same = cs[i] == shift[i] && ck[i] == scale[i];
        if (!same) {
            free(user), free(shift), free(scale);
            code = cli_fail(a, EXIT_USAGE, "%s was made with other data or preprocessing: resume with the "
                            "same --train, --labels, --normalize/--input-scale and --validation options", resume);
            goto done;
        }
        if (!history_alloc(&h, p.epochs) || (user && !history_decode(&h, user, user_len))) {
            free(user), free(shift), free(scale);
            code = cli_fail(a, EXIT_FAILED, "%s: its training history is damaged or longer than --epochs %zu",
                            resume, p.epochs);
            goto done;
        }
        free(user);
        p.net.n_layers = bp_net_layer_count(net);
        for (size_t l = 0; l <= p.net.n_layers; l++) sizes[l] = bp_net_width(net, l);
        p.net.hidden = bp_net_hidden_activation(net);
        p.net.output = bp_net_output_activation(net);
        p.net.loss = bp_net_loss_function(net);
        free(shift), free(scale);
    } else {
        sizes[0] = n_in;
        for (size_t i = 0; i < p.n_hidden; i++) sizes[i + 1] = p.hidden[i];
        sizes[p.n_hidden + 1] = n_out;
        p.net.n_layers = p.n_hidden + 1;
        p.net.sizes = sizes;
        s = bp_net_create(&p.net, &net, &err);
        if (s == BP_OK && transform) s = bp_net_set_input_transform(net, shift, scale);
        free(shift), free(scale);
        if (s == BP_OK && named) s = bp_net_set_class_names(net, names, n_out);
        if (s != BP_OK) {
            code = cli_fail(a, s == BP_ERR_ARG ? EXIT_USAGE : EXIT_FAILED, "%s",
                            err.message[0] ? err.message : bp_status_message(s));
            goto done;
        }
        if ((s = bp_trainer_create(net, &p.train, &trainer)) != BP_OK) {
            code = cli_fail_status(a, s, NULL, "setting up training");
            goto done;
        }
        if (!history_alloc(&h, p.epochs)) {
            code = cli_fail(a, EXIT_FAILED, "out of memory");
            goto done;
        }
    }
    if ((code = cli_use_threads(a, net, p.threads))) goto done;
    bp_device_options device = {.device = BP_DEVICE_CUDA, .tf32 = p.tf32};
    if (p.cuda && bp_trainer_set_device(trainer, &device, &err) != BP_OK) {
        code = cli_fail(a, EXIT_FAILED, "--device cuda: %s", err.message);
        goto done;
    }
    bp_trainer_set_callback(trainer, on_step, &bar);
    /* Under mpirun: every rank trains on its share of each batch; only rank 0 reports and
       writes files. */
    if (ranks > 1) bp_trainer_set_parallel(trainer, (size_t)cli_mpi_rank(), (size_t)ranks, cli_mpi_allreduce, NULL);
    if (ranks > 1 && cli_mpi_overlap((size_t)bp_net_threads(net)))
        bp_trainer_set_overlap(trainer, cli_mpi_sum_start, cli_mpi_sum_wait);
    if (!leader) {
        p.quiet = 1;
        p.json = 0;
        log_path = plot_path = out_path = NULL;
        ckpt = NULL;
    }
    char why[256] = "";
    if (log_path) {
        if (metrics_log_open(&log, log_path, why, sizeof why) != 0) {
            code = cli_fail(a, EXIT_FAILED, "%s", why);
            goto done;
        }
        log_open = 1;
        /* A resumed run's log starts with the epochs before the checkpoint. */
        for (size_t e = 0; e < h.n; e++) {
            double row[9] = {(double)(e + 1)};
            for (int c = 0; c < HISTORY_COLUMNS; c++) row[c + 1] = h.col[c][e];
            if (metrics_log_row(&log, row, why, sizeof why) != 0) {
                code = cli_fail(a, EXIT_FAILED, "%s", why);
                goto done;
            }
        }
    }

    int text = !p.json && !p.quiet;
    size_t first = bp_trainer_epochs_done(trainer) + 1;
    if (text) {
        printf("training ");
        for (size_t l = 0; l <= p.net.n_layers; l++) printf("%s%zu", l ? "-" : "", sizes[l]);
        printf(" (%s hidden, %s output, %s loss) on %zu samples from %s", bp_activation_name(p.net.hidden),
               bp_activation_name(p.net.output), bp_loss_name(p.net.loss), bp_dataset_count(train), train_path);
        if (valid) printf(" (%zu more held out for validation)", bp_dataset_count(valid));
        if (ranks > 1) printf(", data-parallel over %d MPI ranks", ranks);
        if (resume) {
            printf("\nresuming from %s at epoch %zu", resume, first);
        } else {
            printf("\n%s, learning rate %g, ", bp_optimizer_name(p.train.optimizer),
                   p.train.learning_rate ? p.train.learning_rate : bp_trainer_learning_rate(trainer));
            if (p.train.batch_size == 0 || p.train.optimizer == BP_OPT_RPROP) printf("full-batch");
            else printf("batch %zu", p.train.batch_size);
        }
        printf(", %zu epochs\n", p.epochs);
    }

    /* ---- the epochs */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double start = cli_now();
    int stopped = 0;
    for (size_t e = first; e <= p.epochs && !stopped; e++) {
        double lr = bp_trainer_learning_rate(trainer);
        char label[32];
        snprintf(label, sizeof label, "epoch %zu/%zu", e, p.epochs);
        bar.quiet = p.quiet || p.json;
        progress_start(&bar, label, bp_dataset_count(train));
        double t0 = cli_now();
        bp_epoch_stats st = {0};
        do {
            /* In pieces of --checkpoint-every steps, saving after each. */
            s = bp_trainer_run(trainer, train, p.checkpoint_every, &st);
            if (s == BP_OK && !st.complete && ckpt && !interrupted && (code = save_checkpoint(a, trainer, ckpt, &h)))
                goto done;
        } while (s == BP_OK && !st.complete && !interrupted);
        double t1 = cli_now();
        progress_finish(&bar);
        if (s == BP_ERR_NUMERIC) {
            code = cli_fail(a, EXIT_FAILED,
                            "epoch %zu, step %zu: the loss became NaN or infinite: training diverged. Try a "
                            "smaller learning rate (--lr %g), gradient clipping (--clip 1) or normalized "
                            "inputs (--normalize standardize). Nothing was written%s%s%s.",
                            e, bp_trainer_steps_done(trainer), lr / 10, ckpt ? "; the last good checkpoint is " : "",
                            ckpt ? ckpt : "", ckpt ? " (untouched)" : "");
            goto done;
        }
        if (s != BP_OK) {
            const char *dev = bp_trainer_device_message(trainer);
            code = dev[0] ? cli_fail(a, EXIT_FAILED, "training on the GPU: %s", dev)
                          : cli_fail_status(a, s, NULL, "training");
            goto done;
        }
        if (interrupted || (ranks > 1 && any_interrupted())) {
            interrupted = 1;
            if (!leader) {
                code = EXIT_FAILED;
                goto done;
            }
            const char *to = ckpt ? ckpt : "backprop-interrupted.ckpt";
            if ((code = save_checkpoint(a, trainer, to, &h))) goto done;
            code = cli_fail(a, EXIT_FAILED, "interrupted in epoch %zu after %zu of %zu samples; saved %s. "
                            "Resume with the same command plus --resume %s", e, st.samples,
                            bp_dataset_count(train), to, to);
            goto done;
        }
        if (ranks > 1 && !cli_mpi_same_everywhere(bp_crc32(0, bp_net_params_const(net),
                                                           bp_net_param_count(net) * sizeof(float)))) {
            code = cli_fail(a, EXIT_FAILED, "epoch %zu: the ranks' parameters differ (checksum mismatch); "
                            "stopping. Are all ranks running the same build on the same data?", e);
            goto done;
        }
        bp_metrics vm = {0}, tm = {0};
        int have_v = valid && bp_net_evaluate(net, valid, &vm) == BP_OK;
        int have_t = test && bp_net_evaluate(net, test, &tm) == BP_OK;
        double rate = (double)st.samples / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9), elapsed = cli_now() - start;
        double row[9] = {(double)e, st.loss, have_v ? vm.loss : NAN,
                         have_v && vm.accuracy >= 0 ? vm.accuracy : NAN, have_t ? tm.loss : NAN,
                         have_t && tm.accuracy >= 0 ? tm.accuracy : NAN, lr, rate, elapsed};
        history_add(&h, row + 1);
        if (p.json) {
            printf("{\"epoch\":%zu,\"train_loss\":", e);
            json_double(stdout, st.loss);
            if (have_v) print_metrics_json("validation", &vm);
            if (have_t) print_metrics_json("test", &tm);
            printf(",\"learning_rate\":");
            json_double(stdout, lr);
            printf(",\"samples_per_second\":%.0f,\"elapsed\":%.3f}\n", rate, elapsed);
        } else if (text) {
            printf("epoch %*zu/%zu  train loss %.4f", e < 10 && p.epochs < 10 ? 1 : 3, e, p.epochs, st.loss);
            if (have_v) print_metrics_text("val", &vm);
            if (have_t) print_metrics_text("test", &tm);
            printf("  %8.0f samples/s  %6.2f s\n", rate, elapsed);
        }
        fflush(stdout);
        if (log_open && metrics_log_row(&log, row, why, sizeof why) != 0) {
            code = cli_fail(a, EXIT_FAILED, "%s", why);
            goto done;
        }
        if (plot_path && (code = write_plot(a, plot_path, &h))) goto done;
        if (have_v && p.patience) {
            int stop = 0;
            if (vm.loss < h.best_val) h.best_val = vm.loss, h.best_epoch = e;
            if (bp_trainer_observe(trainer, vm.loss, p.patience, &stop) == BP_OK && stop) stopped = 1;
        }
        if (ckpt && (code = save_checkpoint(a, trainer, ckpt, &h))) goto done;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (p.patience && h.best_epoch) {
        bp_trainer_restore_best(trainer);
        if (text)
            printf("%s; keeping the weights of epoch %zu (validation loss %.4f)\n",
                   stopped ? "early stop: no better validation loss" : "done", h.best_epoch, h.best_val);
    }

    /* ---- final report and the model */
    bp_metrics fm = {0};
    int have_final = test && bp_net_evaluate(net, test, &fm) == BP_OK;
    if (out_path && (s = bp_net_save(net, out_path, &err)) != BP_OK) {
        code = cli_fail_status(a, s, &err, out_path);
        goto done;
    }
    if (p.json) {
        printf("{\"done\":true,\"epochs\":%zu", h.n);
        if (have_final) print_metrics_json("test", &fm);
        printf(",\"seconds\":%.3f", cli_now() - start);
        if (out_path) {
            printf(",\"model\":");
            json_string(stdout, out_path);
        }
        printf("}\n");
    } else if (cli_mpi_rank() == 0) {
        if (have_final) {
            printf("final:");
            print_metrics_text("test", &fm);
            printf(" on %zu samples\n", bp_dataset_count(test));
        }
        if (out_path) printf("saved %s\n", out_path);
        else if (!p.quiet) printf("(the model was not saved: add -o FILE.bpm)\n");
        if (plot_path && !p.quiet) printf("plot: %s\n", plot_path);
    }
    code = EXIT_OK;
done:
    /* A rank that fails alone would leave the others waiting in an allreduce: end the job. */
    if (code != EXIT_OK && cli_mpi_size() > 1 && !interrupted) cli_mpi_abort(code);
    if (log_open) metrics_log_close(&log, NULL, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    history_free(&h);
    bp_trainer_free(trainer);
    bp_net_free(net);
    bp_dataset_free(all);
    bp_dataset_free(train);
    bp_dataset_free(valid);
    bp_dataset_free(test);
    return code;
}

const cli_command cmd_train = {
    "train", "--train FILE [--test FILE] [--hidden 64,32] [options] [-o model.bpm]",
    "train a network on CSV, IDX (MNIST) or FANN data",
    "Train a fully connected network by backpropagation and gradient descent.\n"
    "A CSV row holds the inputs, then a class (a number 0..K-1 or a name; the network\n"
    "gets K softmax outputs and cross-entropy) or, with --targets N, N real-valued\n"
    "targets (identity outputs and mean squared error). IDX images take their labels\n"
    "from --labels. --batch 1 is per-sample descent, --batch 0 full-batch descent.\n"
    "Preprocessing, class names and the architecture are stored in the model, so eval\n"
    "and predict take raw data.",
    train_options, sizeof train_options / sizeof train_options[0], 0, run_train};
