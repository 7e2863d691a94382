/*
 * cmd_train.c - `backprop train`: read the data, build the network, run the
 * library's trainer epoch after epoch, report, and save the model.
 *
 * Everything a run needs is checked before the first epoch (options, output
 * paths, data), so a typo never costs a long training run. run_train, at the
 * bottom, reads as the run's steps, each a function over one train_run: the
 * options, the data and its split, preprocessing, a new or resumed network,
 * the run's setup (threads, device, MPI, log), the epochs, the model and the
 * report. What the epochs leave behind is kept by history.c; the log, the
 * plot and the progress bar are log.c, plot.c and progress.c.
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
    {"init-range", "R", "initial weights and biases uniform in [-R, R] (FANN's range is 0.1; default 0:"
                        " He weights for the ReLU family, Xavier otherwise, zero biases)"},
    {"dropout", "P[,P2,...]", "while training, drop each hidden unit with probability P (one value for"
                              " every hidden layer, or one each); kept units are scaled by 1/(1-P)"},
    {"optimizer", "NAME", "sgd (default), momentum, nesterov, adam, adamw, rprop (full batch) or lbfgs"
                          " (full batch, one iteration per epoch; stops early once converged)"},
    {"lr", "ETA", "learning rate (default 0.1; 0.001 for adam and adamw; rprop and lbfgs take none)"},
    {"momentum", "MU", "momentum for momentum/nesterov (default 0.9); with sgd, turns momentum on;"
                        " not for the other optimizers"},
    {"weight-decay", "L", "L2 penalty on all weights and biases (decoupled for adamw; default 0)"},
    {"rprop-step0", "STEP", "rprop: every parameter's first step (default 0.1; FANN's delta_zero)"},
    {"rprop-step-max", "STEP", "rprop: the largest step (default 50; FANN's delta_max)"},
    {"lbfgs-history", "M", "lbfgs: (s, y) pairs kept (default 10)"},
    {"tolerance", "TOL", "lbfgs: converged when no |dC/dp| exceeds this (default 1e-4)"},
    {"max-evaluations", "N", "lbfgs: at most this many loss-and-gradient evaluations (default 15000)"},
    {"clip", "NORM", "rescale each step's gradient to at most this 2-norm (default: no clipping;"
                      " not for lbfgs)"},
    {"schedule", "NAME", "learning-rate schedule: constant (default), step or cosine (not for rprop or lbfgs)"},
    {"step-epochs", "N", "step schedule: epochs between decays (default 10)"},
    {"gamma", "G", "step schedule: decay factor (default 0.1)"},
    {"min-lr", "ETA", "cosine schedule: final learning rate, below --lr (default 0)"},
    {"warmup", "EPOCHS", "linear learning-rate warm-up over this many epochs (default 0; not for rprop or lbfgs)"},
    {"batch", "M", "samples per step: 1 = per-sample, 0 = full batch (default 32; rprop and lbfgs: always 0)"},
    {"epochs", "N", "passes over the training data (default 10)"},
    {"reduction", "NAME", "mean (default) or sum of the per-sample gradients in a batch (rprop: always sum;"
                         " lbfgs: always mean)"},
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
    {"precision", "NAME", "the matrix products' arithmetic: fp32 (default), bf16 (operands rounded to"
                          " bfloat16, float32 sums and weights, on AMX or AVX512_BF16; see --version) or"
                          " bf16-emulated (the same in portable C on any CPU, slow)"},
    {"mpi-timeout", "SECONDS", "under mpirun: end the job when a rank has not answered for this long,"
                               " naming it (default 300; 0 waits forever)"},
    {"checkpoint", "FILE", "save the whole training state here after every epoch (atomically);"
                           " also a valid model"},
    {"checkpoint-every", "STEPS", "also save the checkpoint every STEPS steps within an epoch"},
    {"resume", "FILE", "continue from a checkpoint: give the same data files; the network, the training"
                       " settings, --seed and --validation come from the file (options given must match"
                       " it), --epochs may grow (not past a cosine schedule's end)"},
    {"log", "FILE", "write per-epoch metrics as CSV (rewritten after every epoch)"},
    {"plot", "FILE", "draw loss and accuracy curves as a standalone SVG"},
    {"quiet", NULL, "print only the final summary (no per-epoch lines, no progress bar)"},
    {"json", NULL, "one JSON object per epoch and one at the end instead of text"},
    {"o", "FILE", "save the trained model here (.bpm)"},
};

/* Everything the options say, parsed and checked before any data is read. */
typedef struct {
    size_t hidden[BP_MAX_LAYERS], n_hidden, epochs, patience, value_targets, checkpoint_every;
    double dropout[BP_MAX_LAYERS];
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

/* The network: --hidden, --targets (which set the default loss), then the
   options every command that builds a network shares. */
static int plan_network(cli_args *a, train_plan *p)
{
    int code;
    p->n_hidden = 1;
    p->hidden[0] = 32;
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
    int any = 0;
    if ((code = cli_dropout(a, p->n_hidden, p->dropout, &any))) return code;
    p->net.dropout = any ? p->dropout : NULL;
    return 0;
}

/* --rprop-step0 and --rprop-step-max: for rprop only, the first no larger than the largest. */
static int plan_rprop(cli_args *a, bp_train_config *c)
{
    int code;
    if ((code = cli_double(a, "rprop-step0", 1e-6, 1e30, &c->rprop_step0)) ||
        (code = cli_double(a, "rprop-step-max", 1e-6, 1e30, &c->rprop_step_max)))
        return code;
    const char *given = cli_get(a, "rprop-step0") ? "rprop-step0" : cli_get(a, "rprop-step-max") ? "rprop-step-max"
                                                                                               : NULL;
    if (given && c->optimizer != BP_OPT_RPROP)
        return cli_fail(a, EXIT_USAGE, "--%s applies to --optimizer rprop, not %s", given,
                        bp_optimizer_name(c->optimizer));
    const double first = c->rprop_step0 ? c->rprop_step0 : 0.1, largest = c->rprop_step_max ? c->rprop_step_max : 50;
    if (first > largest)
        return cli_fail(a, EXIT_USAGE, "rprop's first step (%g) is larger than its largest step (%g): lower "
                        "--rprop-step0 or raise --rprop-step-max", first, largest);
    return 0;
}

/* An option that the chosen settings would ignore is a usage error naming the
   setting it needs, rather than a value quietly dropped: `--optimizer adam
   --momentum 0.5` must not look as if it trained with momentum. Values that say
   what happens anyway (--batch 0 for a full-batch optimizer, --schedule constant)
   pass. */
static int check_settings_apply(cli_args *a, const bp_train_config *c)
{
    const char *opt = bp_optimizer_name(c->optimizer);
    const int has_momentum = c->optimizer == BP_OPT_SGD || c->optimizer == BP_OPT_MOMENTUM ||
                             c->optimizer == BP_OPT_NESTEROV;
    const int lbfgs = c->optimizer == BP_OPT_LBFGS, rprop = c->optimizer == BP_OPT_RPROP;
    static const char *const lbfgs_only[] = {"lbfgs-history", "tolerance", "max-evaluations"};
    if (cli_get(a, "momentum") && !has_momentum)
        return cli_fail(a, EXIT_USAGE, "--momentum applies to --optimizer sgd, momentum or nesterov, not %s", opt);
    for (size_t i = 0; i < sizeof lbfgs_only / sizeof lbfgs_only[0]; i++)
        if (cli_get(a, lbfgs_only[i]) && !lbfgs)
            return cli_fail(a, EXIT_USAGE, "--%s applies to --optimizer lbfgs, not %s", lbfgs_only[i], opt);
    if (rprop || lbfgs) {
        /* Neither takes a learning rate (RPROP adapts a step per parameter, L-BFGS
           searches along a line), and both train on the whole data set. */
        const char *why = rprop ? "rprop sets a step per parameter" : "lbfgs searches along a line";
        const char *rate = cli_get(a, "lr") ? "lr" : c->schedule != BP_SCHEDULE_CONSTANT ? "schedule"
                           : c->warmup_epochs > 0 ? "warmup" : NULL;
        if (rate)
            return cli_fail(a, EXIT_USAGE, "--%s applies to --optimizer sgd, momentum, nesterov, adam or adamw, "
                            "not %s: %s and has no learning rate", rate, opt, why);
        if (cli_get(a, "batch") && c->batch_size != 0)
            return cli_fail(a, EXIT_USAGE, "--batch %zu: --optimizer %s always trains on the full batch (leave "
                            "--batch out, or give --batch 0)", c->batch_size, opt);
        const bp_reduction forced = rprop ? BP_REDUCE_SUM : BP_REDUCE_MEAN;
        if (cli_get(a, "reduction") && c->reduction != forced)
            return cli_fail(a, EXIT_USAGE, "--reduction %s: --optimizer %s always uses the %s over the data set",
                            cli_get(a, "reduction"), opt, rprop ? "sum" : "mean");
        if (lbfgs && cli_get(a, "clip"))
            return cli_fail(a, EXIT_USAGE, "--clip does not apply to --optimizer lbfgs: its line search picks "
                            "the step length");
    }
    const char *schedule = bp_schedule_name(c->schedule); /* given, or a resumed run's */
    if (c->schedule != BP_SCHEDULE_STEP && (cli_get(a, "step-epochs") || cli_get(a, "gamma")))
        return cli_fail(a, EXIT_USAGE, "--%s applies to --schedule step, not %s",
                        cli_get(a, "step-epochs") ? "step-epochs" : "gamma", schedule);
    if (c->schedule != BP_SCHEDULE_COSINE && cli_get(a, "min-lr"))
        return cli_fail(a, EXIT_USAGE, "--min-lr applies to --schedule cosine, not %s", schedule);
    const int adam = c->optimizer == BP_OPT_ADAM || c->optimizer == BP_OPT_ADAMW;
    const double lr = c->learning_rate ? c->learning_rate : adam ? 0.001 : 0.1;
    if (c->schedule == BP_SCHEDULE_COSINE && c->min_lr >= lr)
        return cli_fail(a, EXIT_USAGE, "--min-lr %g is not below the learning rate %g%s: the cosine schedule "
                        "decays from --lr down to --min-lr", c->min_lr, lr, cli_get(a, "lr") ? "" : " (the default)");
    return 0;
}

/* A resumed run: the training settings its checkpoint holds, and the validation
   fraction its history records (-1: a checkpoint from before it did). */
typedef struct {
    const char *path;
    bp_train_config train;
    double validation;
} resumed_settings;

static int refuse_resumed(cli_args *a, const char *option, const char *stored, const char *path)
{
    const char *given = cli_get(a, option);
    return cli_fail(a, EXIT_USAGE, "--%s%s%s, but %s was trained with %s: a resumed run keeps the checkpoint's "
                    "training settings (leave --%s out, or train a new network without --resume)", option,
                    given && *given ? " " : "", given ? given : "", path, stored, option);
}

/* A resumed run trains with its checkpoint's settings, so each training option given
   must say what the checkpoint holds (as the network options must): otherwise
   `--lr 0.5 --resume run.ckpt` would look as if it trained at 0.5. c holds the
   checkpoint's settings with the options given parsed over them, as the library
   resolves them (plain sgd given a momentum is momentum). 0, or EXIT_USAGE after a
   message. */
static int same_training_as_checkpoint(cli_args *a, const bp_train_config *c, const resumed_settings *rs)
{
    const bp_train_config *s = &rs->train;
    char stored[96];
    if (cli_get(a, "optimizer") && c->optimizer != s->optimizer) {
        snprintf(stored, sizeof stored, "--optimizer %s", bp_optimizer_name(s->optimizer));
        return refuse_resumed(a, "optimizer", stored, rs->path);
    }
    if (cli_get(a, "schedule") && c->schedule != s->schedule) {
        snprintf(stored, sizeof stored, "--schedule %s", bp_schedule_name(s->schedule));
        return refuse_resumed(a, "schedule", stored, rs->path);
    }
    if (cli_get(a, "reduction") && c->reduction != s->reduction) {
        snprintf(stored, sizeof stored, "--reduction %s", bp_reduction_name(s->reduction));
        return refuse_resumed(a, "reduction", stored, rs->path);
    }
    if (cli_flag(a, "no-shuffle") && !s->no_shuffle)
        return refuse_resumed(a, "no-shuffle", "the data reshuffled every epoch", rs->path);
    /* The numbers, each as the given value (parsed over the stored one) and the stored
       one; RPROP's steps are compared as the floats the library keeps them as. */
    const struct {
        const char *option;
        const double *given, *held;
        int as_float;
    } reals[] = {
        {"lr", &c->learning_rate, &s->learning_rate, 0}, {"momentum", &c->momentum, &s->momentum, 0},
        {"weight-decay", &c->weight_decay, &s->weight_decay, 0}, {"clip", &c->clip_norm, &s->clip_norm, 0},
        {"step-epochs", &c->step_epochs, &s->step_epochs, 0}, {"gamma", &c->gamma, &s->gamma, 0},
        {"min-lr", &c->min_lr, &s->min_lr, 0}, {"warmup", &c->warmup_epochs, &s->warmup_epochs, 0},
        {"tolerance", &c->tolerance, &s->tolerance, 0}, {"rprop-step0", &c->rprop_step0, &s->rprop_step0, 1},
        {"rprop-step-max", &c->rprop_step_max, &s->rprop_step_max, 1},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        const char *option = reals[i].option;
        double v = *reals[i].held;
        const int same = reals[i].as_float ? (float)*reals[i].given == (float)v : *reals[i].given == v;
        if (!cli_get(a, option) || same) continue;
        if (strcmp(option, "momentum") == 0 && s->optimizer == BP_OPT_SGD)
            return refuse_resumed(a, option, "--optimizer sgd, without momentum", rs->path);
        /* The shortest form that reads back as the stored number. */
        snprintf(stored, sizeof stored, "--%s %g", option, v);
        const double back = strtod(stored + strlen(option) + 3, NULL);
        if (reals[i].as_float ? (float)back != (float)v : back != v)
            snprintf(stored, sizeof stored, "--%s %.*g", option, reals[i].as_float ? 9 : 17, v);
        return refuse_resumed(a, option, stored, rs->path);
    }
    const struct {
        const char *option;
        size_t given, held;
    } counts[] = {
        {"batch", c->batch_size, s->batch_size},
        {"lbfgs-history", c->lbfgs_history, s->lbfgs_history},
        {"max-evaluations", c->max_evaluations, s->max_evaluations},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (cli_get(a, counts[i].option) && counts[i].given != counts[i].held) {
            snprintf(stored, sizeof stored, "--%s %zu", counts[i].option, counts[i].held);
            return refuse_resumed(a, counts[i].option, stored, rs->path);
        }
    if (cli_get(a, "seed") && c->seed != s->seed) {
        snprintf(stored, sizeof stored, "--seed %llu", (unsigned long long)s->seed);
        return refuse_resumed(a, "seed", stored, rs->path);
    }
    return 0;
}

/* The optimizer, its schedule, and every number of the run. A resumed run (rs not
   NULL) starts from its checkpoint's settings, so that what the options say is
   checked against what the run will do. */
static int plan_training(cli_args *a, train_plan *p, const resumed_settings *rs)
{
    bp_train_config *c = &p->train;
    c->batch_size = 32;
    if (rs) {
        *c = rs->train; /* a loaded trainer's: no callbacks, one process, float32 */
        if (!cli_get(a, "seed")) p->net.seed = rs->train.seed; /* the validation split's too */
        if (rs->validation >= 0 && !cli_get(a, "validation")) p->validation = rs->validation;
    }
    p->epochs = 10;
    const char *v;
    int code;
    if ((v = cli_get(a, "optimizer")) && bp_optimizer_parse(v, &c->optimizer) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "unknown optimizer '%s' (sgd, momentum, nesterov, adam, adamw, rprop, lbfgs)",
                        v);
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
        (code = cli_size(a, "lbfgs-history", 1, 1000, &c->lbfgs_history)) ||
        (code = cli_double(a, "tolerance", 1e-30, 1e30, &c->tolerance)) ||
        (code = cli_size(a, "max-evaluations", 1, (size_t)1 << 40, &c->max_evaluations)) ||
        (code = cli_size(a, "epochs", 1, 100000000, &p->epochs)) ||
        (code = cli_double(a, "validation", 1e-9, 0.999999, &p->validation)) ||
        (code = cli_size(a, "early-stop", 1, 100000000, &p->patience)) ||
        (code = cli_double(a, "input-scale", 1e-30, 1e30, &p->input_scale)) ||
        (code = cli_size(a, "checkpoint-every", 1, (size_t)1 << 40, &p->checkpoint_every)) ||
        (code = cli_threads(a, &p->threads)) ||
        (code = cli_double(a, "mpi-timeout", 0, 1e9, &p->mpi_timeout)) ||
        (code = plan_rprop(a, c)) || (code = check_settings_apply(a, c)))
        return code;
    if (!cli_get(a, "mpi-timeout")) p->mpi_timeout = 300;
    c->no_shuffle = (rs && rs->train.no_shuffle) || cli_flag(a, "no-shuffle");
    c->seed = p->net.seed;
    if (!rs) c->epochs = p->epochs; /* a cosine schedule's length: a resumed one keeps its own */
    if (p->patience && p->validation == 0) {
        if (rs && rs->validation == 0)
            return cli_fail(a, EXIT_USAGE, "--early-stop watches a validation part, but %s was trained without "
                            "one: a resumed run keeps its data split (leave --early-stop out, or train a new "
                            "network with --validation)", rs->path);
        p->validation = 0.1;
    }
    if (rs && rs->validation >= 0 && p->validation != rs->validation) {
        char stored[64];
        snprintf(stored, sizeof stored, rs->validation ? "--validation %g" : "no validation part", rs->validation);
        return refuse_resumed(a, "validation", stored, rs->path);
    }
    /* A cosine schedule has the length of the run that made it, and stays at its final
       rate after that: further epochs would go on at --min-lr (with the default 0, change
       nothing at all) without a word. */
    if (rs && rs->train.schedule == BP_SCHEDULE_COSINE && p->epochs > rs->train.epochs)
        return cli_fail(a, EXIT_USAGE, "--epochs %zu goes past the end of %s's cosine schedule, which decays to "
                        "--min-lr %g over %zu epochs: the epochs after it would train at that final rate%s (give "
                        "--epochs %zu at most, or train a new network with more epochs)", p->epochs, rs->path,
                        rs->train.min_lr, rs->train.epochs, rs->train.min_lr == 0 ? ", changing nothing" : "",
                        rs->train.epochs);
    return 0;
}

/* --normalize none|minmax|standardize. */
static int plan_normalize(cli_args *a, train_plan *p)
{
    const char *v = cli_get(a, "normalize");
    if (!v) return 0;
    p->normalize_given = 1;
    if (strcmp(v, "none") == 0) p->normalize = BP_NORMALIZE_NONE;
    else if (strcmp(v, "minmax") == 0) p->normalize = BP_NORMALIZE_MINMAX;
    else if (strcmp(v, "standardize") == 0) p->normalize = BP_NORMALIZE_STANDARDIZE;
    else return cli_fail(a, EXIT_USAGE, "--normalize expects none, minmax or standardize, got '%s'", v);
    return 0;
}

/* --precision: bf16 needs the CPU's bf16 products (exit 2 without them). */
static int plan_precision(cli_args *a, train_plan *p)
{
    const char *v = cli_get(a, "precision");
    if (!v || strcmp(v, "fp32") == 0) return 0;
    if (strcmp(v, "bf16") == 0) p->train.precision = BP_PRECISION_BF16;
    else if (strcmp(v, "bf16-emulated") == 0) p->train.precision = BP_PRECISION_BF16_EMULATED;
    else return cli_fail(a, EXIT_USAGE, "--precision expects fp32, bf16 or bf16-emulated, got '%s'", v);
    if (p->cuda) return cli_fail(a, EXIT_USAGE, "--precision %s is for the CPU: the GPU trains in float32 (--tf32 "
                                 "lets its tensor cores round)", v);
    if (!bp_precision_kernel(p->train.precision))
        return cli_fail(a, EXIT_USAGE, "--precision bf16: this CPU has neither AMX-BF16 tiles nor AVX512_BF16; "
                        "use fp32, or bf16-emulated for the same arithmetic in portable C (slow)");
    return 0;
}

/* Where the run computes, what it writes, how the data is read and preprocessed. */
static int plan_run(cli_args *a, train_plan *p)
{
    const char *v;
    int code;
    if ((v = cli_get(a, "device")) && strcmp(v, "cpu") != 0 && strcmp(v, "cuda") != 0)
        return cli_fail(a, EXIT_USAGE, "--device expects cpu or cuda, got '%s'", v);
    p->cuda = v && strcmp(v, "cuda") == 0;
    if (p->net.dropout && p->train.optimizer == BP_OPT_LBFGS)
        return cli_fail(a, EXIT_USAGE, "--dropout does not go with --optimizer lbfgs: its line search needs the "
                                       "same loss every time it looks; use adam, or lbfgs with --weight-decay");
    p->tf32 = cli_flag(a, "tf32");
    if (p->tf32 && !p->cuda) return cli_fail(a, EXIT_USAGE, "--tf32 needs --device cuda");
    if ((code = plan_precision(a, p))) return code;
    if (p->checkpoint_every && !cli_get(a, "checkpoint"))
        return cli_fail(a, EXIT_USAGE, "--checkpoint-every needs --checkpoint FILE");
    if ((code = plan_normalize(a, p))) return code;
    if (p->normalize_given && p->normalize != BP_NORMALIZE_NONE && p->input_scale)
        return cli_fail(a, EXIT_USAGE, "--normalize and --input-scale cannot be combined");
    if ((code = cli_parse_format(a, &p->format))) return code;
    p->json = cli_flag(a, "json");
    p->quiet = cli_flag(a, "quiet");
    return 0;
}

/* The options together, on a stand-in network, so that a bad pairing fails
   before any data is read (and, resuming, so that the options given are compared
   with the checkpoint's settings as the library resolves them); and every
   output's directory writable. */
static int check_plan(cli_args *a, const train_plan *p, const resumed_settings *rs)
{
    size_t probe[] = {1, 2};
    bp_net_config check = p->net;
    check.n_layers = 1;
    check.sizes = probe;
    bp_error err = {0};
    if (bp_net_config_check(&check, &err) != BP_OK) return cli_fail(a, EXIT_USAGE, "%s", err.message);
    bp_trainer *probe_trainer = NULL;
    bp_net *probe_net = NULL;
    int code = 0;
    if (bp_net_create(&check, &probe_net, NULL) == BP_OK) {
        bp_status s = bp_trainer_create(probe_net, &p->train, &probe_trainer);
        bp_train_config resolved;
        if (s == BP_OK && rs && bp_trainer_get_config(probe_trainer, &resolved) == BP_OK)
            code = same_training_as_checkpoint(a, &resolved, rs);
        bp_trainer_free(probe_trainer);
        bp_net_free(probe_net);
        if (s == BP_ERR_ARG) return cli_fail(a, EXIT_USAGE, "invalid combination of training options");
        if (code) return code;
    }
    if ((code = check_writable(a, "--checkpoint", cli_get(a, "checkpoint"))) ||
        (code = check_writable(a, "-o", cli_get(a, "o"))) ||
        (code = check_writable(a, "--log", cli_get(a, "log"))) ||
        (code = check_writable(a, "--plot", cli_get(a, "plot"))))
        return code;
    return 0;
}

/* Everything the options say into p, checked; 0 or the exit code. */
static int parse_plan(cli_args *a, train_plan *p, const resumed_settings *rs)
{
    int code;
    memset(p, 0, sizeof *p);
    if ((code = plan_network(a, p)) || (code = plan_training(a, p, rs)) || (code = plan_run(a, p))) return code;
    return check_plan(a, p, rs);
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
       between epochs instead (see check_stop). */
    return interrupted != 0 && cli_mpi_size() == 1;
}

/* Whether any rank was interrupted (every rank learns the same answer). */
static int any_interrupted(void)
{
    return cli_mpi_any(interrupted != 0);
}

static int save_checkpoint(const cli_args *a, const bp_trainer *t, const char *path, const train_history *h,
                           double validation)
{
    size_t len = 0;
    unsigned char *user = history_encode(h, validation, &len);
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

/* One training run: what the options said, the data, the network and trainer,
   and what the epochs have produced. run_train's steps fill it in order, and
   finish_run frees whatever they got to. */
typedef struct {
    cli_args *a;
    train_plan p;
    const char *train_path, *test_path, *out_path, *log_path, *plot_path, *resume, *ckpt;
    int ranks, leader;        /* MPI: the number of ranks, and whether this one reports */
    bp_dataset *all, *train, *valid, *test;
    size_t n_in, n_out;
    const char **class_names; /* the training data's n_out class names, or NULL */
    float *shift, *scale;     /* the input transform, when transform is set */
    int transform;
    size_t sizes[BP_MAX_LAYERS + 1];
    bp_net *net;
    bp_trainer *trainer;
    void *resumed_user;       /* --resume: the checkpoint's user chunk (its history) */
    size_t resumed_user_len;
    train_history h;
    metrics_log log;
    int log_open;
    progress bar;
    double start;             /* when the epochs began */
    int stopped;              /* early stopping ended the run */
    int converged;            /* L-BFGS stopped: further epochs would change nothing */
} train_run;

/* Per-epoch lines and notes as text (not --json, not --quiet, rank 0). */
static int prints_text(const train_run *r) { return !r->p.json && !r->p.quiet; }

/* The options, all checked before anything is read: a usage error costs nothing. */
static int start_run(cli_args *a, train_run *r)
{
    *r = (train_run){.a = a};
    r->train_path = cli_get(a, "train");
    r->test_path = cli_get(a, "test");
    r->out_path = cli_get(a, "o");
    r->log_path = cli_get(a, "log");
    r->plot_path = cli_get(a, "plot");
    r->resume = cli_get(a, "resume");
    r->ckpt = cli_get(a, "checkpoint");
    if (!r->train_path) return cli_fail(a, EXIT_USAGE, "--train FILE is required");
    if (cli_get(a, "test-labels") && !r->test_path)
        return cli_fail(a, EXIT_USAGE, "--test-labels needs --test");
    const char *inputs[] = {"--train", r->train_path, "--test", r->test_path, "--labels", cli_get(a, "labels"),
                            "--test-labels", cli_get(a, "test-labels")};
    const char *outputs[] = {"-o", r->out_path, "--checkpoint", r->ckpt, "--log", r->log_path, "--plot", r->plot_path};
    int code = 0;
    for (size_t i = 0; i < 8 && !code; i += 2)
        code = cli_check_output(a, outputs[i], outputs[i + 1], inputs, sizeof inputs / sizeof inputs[0] / 2);
    /* The checkpoint resumed from is an input too, but --checkpoint may name it: that is how
       a resumed run goes on. */
    const char *resumed[] = {"--resume", r->resume};
    for (size_t i = 0; i < 8 && !code; i += 2)
        if (i != 2) code = cli_check_output(a, outputs[i], outputs[i + 1], resumed, 1);
    if (code || (code = cli_check_distinct_outputs(a, outputs, 4))) return code;
    r->ranks = cli_mpi_size();
    r->leader = cli_mpi_rank() == 0;
    if (!r->resume) return parse_plan(a, &r->p, NULL);
    /* A resumed run's options are read against the settings it continues with. */
    bp_error err = {0};
    bp_status s = bp_checkpoint_load(r->resume, &r->net, &r->trainer, &r->resumed_user, &r->resumed_user_len, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, r->resume);
    resumed_settings rs = {.path = r->resume, .validation = history_validation(r->resumed_user, r->resumed_user_len)};
    bp_trainer_get_config(r->trainer, &rs.train);
    return parse_plan(a, &r->p, &rs);
}

/* --test, read with the training data's targets and class names, and checked
   against its shape. */
static int read_test_data(train_run *r, bp_target_kind target)
{
    const train_plan *p = &r->p;
    cli_data_request req = {r->test_path, cli_get(r->a, "test-labels"), p->format, target,
                            p->value_targets, p->value_targets ? 0 : r->n_out, r->class_names};
    int code = 0;
    if ((p->format == CLI_FORMAT_AUTO || p->format == CLI_FORMAT_CSV) && !req.labels)
        code = cli_check_csv_columns(r->a, r->test_path, "the training data", r->n_in, r->n_out,
                                     !p->value_targets, 0, NULL);
    if (code || (code = cli_read_data(r->a, &req, &r->test))) return code;
    if (bp_dataset_inputs(r->test) != r->n_in || bp_dataset_outputs(r->test) != r->n_out)
        return cli_fail(r->a, EXIT_FAILED, "%s: %zu inputs and %zu outputs per sample, but %s has %zu and %zu",
                        r->test_path, bp_dataset_inputs(r->test), bp_dataset_outputs(r->test), r->train_path,
                        r->n_in, r->n_out);
    return 0;
}

/* Classes to train on: data whose every sample has the same class (a filtered file, the
   wrong last column) would train a network that always answers that class, with a loss
   near zero and 100% accuracy that mean nothing. The reader still gives such data two
   outputs, so this looks at the targets: EXIT_FAILED after a message naming the class. */
static int check_classes(const train_run *r)
{
    const bp_dataset *d = r->all;
    const size_t n = bp_dataset_count(d), k_out = r->n_out;
    if (r->p.value_targets || k_out < 2 || n == 0) return 0;
    const float *y = bp_dataset_y_const(d);
    size_t first = 0;
    while (first < k_out && y[first] != 1.0f) first++;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < k_out; k++)
            if (y[i * k_out + k] != (k == first ? 1.0f : 0.0f)) return 0;
    char name[64];
    if (bp_dataset_class_name(d, first)) snprintf(name, sizeof name, "'%s'", bp_dataset_class_name(d, first));
    else snprintf(name, sizeof name, "%zu", first);
    return cli_fail(r->a, EXIT_FAILED, "%s: all %zu samples are of class %s: a classifier needs samples of at "
                    "least two classes to learn to tell them apart (is this the whole file, and is the class in "
                    "the last column? --targets N trains on values instead)", r->train_path, n, name);
}

/* The data: under mpirun, rank 0 reads and the others receive (only rank 0 needs
   the files; only rank 0 evaluates on --test). Then the validation split. */
static int read_data(train_run *r)
{
    const train_plan *p = &r->p;
    cli_mpi_set_timeout(p->mpi_timeout);
    cli_data_request req = {r->train_path, cli_get(r->a, "labels"), p->format,
                            p->value_targets ? BP_TARGET_VALUES : BP_TARGET_CLASS, p->value_targets, 0, NULL};
    int code = cli_mpi_read_data(r->a, &req, &r->all);
    if (code) return code;
    if (bp_dataset_outputs(r->all) == 0)
        return cli_fail(r->a, EXIT_FAILED, "%s: no targets to train on", r->train_path);
    r->n_in = bp_dataset_inputs(r->all);
    r->n_out = bp_dataset_outputs(r->all);
    if ((code = check_classes(r))) return code;
    if (bp_dataset_class_name(r->all, 0)) {
        if (!(r->class_names = malloc(r->n_out * sizeof *r->class_names)))
            return cli_fail(r->a, EXIT_FAILED, "out of memory");
        for (size_t k = 0; k < r->n_out; k++) r->class_names[k] = bp_dataset_class_name(r->all, k);
    }
    if (r->test_path && r->leader && (code = read_test_data(r, req.target))) return code;
    if (p->validation == 0) {
        r->train = r->all;
        r->all = NULL;
    } else if (bp_dataset_split(r->all, p->validation, p->net.seed ^ 0x5eed, &r->train, &r->valid) != BP_OK) {
        return cli_fail(r->a, EXIT_USAGE, "--validation %g leaves no samples on one side of %zu", p->validation,
                        bp_dataset_count(r->all));
    }
    return 0;
}

/* Preprocessing: statistics from the training part only, applied to every part
   and stored in the model. IDX pixels are scaled to [0, 1] unless told otherwise. */
static int preprocess(train_run *r)
{
    train_plan *p = &r->p;
    r->shift = calloc(r->n_in, sizeof(float));
    r->scale = calloc(r->n_in, sizeof(float));
    if (!r->shift || !r->scale) return cli_fail(r->a, EXIT_FAILED, "out of memory");
    int idx = cli_get(r->a, "labels") != NULL ||
              (p->format == CLI_FORMAT_AUTO ? cli_detect_format(r->train_path) : p->format) == CLI_FORMAT_IDX;
    if (r->ranks > 1 && cli_mpi_bcast(&idx, sizeof idx) != 0) /* rank 0 looked at the file */
        return cli_fail(r->a, EXIT_FAILED, "rank %d: sharing the data format failed", cli_mpi_rank());
    if (!p->input_scale && !p->normalize_given && idx) p->input_scale = 255;
    if (p->input_scale) {
        for (size_t i = 0; i < r->n_in; i++) r->scale[i] = (float)(1.0 / p->input_scale);
        r->transform = 1;
    } else if (p->normalize != BP_NORMALIZE_NONE) {
        bp_dataset_input_stats(r->train, p->normalize, r->shift, r->scale);
        r->transform = 1;
    }
    if (r->transform) {
        bp_dataset_apply_transform(r->train, r->shift, r->scale);
        if (r->valid) bp_dataset_apply_transform(r->valid, r->shift, r->scale);
        if (r->test) bp_dataset_apply_transform(r->test, r->shift, r->scale);
    }
    return 0;
}

/* A fresh network of the planned shape, with the transform and class names, and
   its trainer. */
static int new_network(train_run *r)
{
    train_plan *p = &r->p;
    r->sizes[0] = r->n_in;
    for (size_t i = 0; i < p->n_hidden; i++) r->sizes[i + 1] = p->hidden[i];
    r->sizes[p->n_hidden + 1] = r->n_out;
    p->net.n_layers = p->n_hidden + 1;
    p->net.sizes = r->sizes;
    bp_error err = {0};
    bp_status s = bp_net_create(&p->net, &r->net, &err);
    if (s == BP_OK && r->transform) s = bp_net_set_input_transform(r->net, r->shift, r->scale);
    if (s == BP_OK && r->class_names) s = bp_net_set_class_names(r->net, r->class_names, r->n_out);
    if (s != BP_OK)
        return cli_fail(r->a, s == BP_ERR_ARG ? EXIT_USAGE : EXIT_FAILED, "%s",
                        err.message[0] ? err.message : bp_status_message(s));
    if ((s = bp_trainer_create(r->net, &p->train, &r->trainer)) != BP_OK)
        return cli_fail_status(r->a, s, NULL, "setting up training");
    if (!history_alloc(&r->h, p->epochs)) return cli_fail(r->a, EXIT_FAILED, "out of memory");
    return 0;
}

/* Whether a checkpoint's network was made for this data and preprocessing. */
static int fits_checkpoint(const train_run *r)
{
    const float *shift, *scale;
    int has = bp_net_get_input_transform(r->net, &shift, &scale);
    int same = bp_net_width(r->net, 0) == r->n_in && bp_net_width(r->net, bp_net_layer_count(r->net)) == r->n_out &&
               has == r->transform;
    for (size_t i = 0; same && has && i < r->n_in; i++) same = shift[i] == r->shift[i] && scale[i] == r->scale[i];
    return same;
}

/* The hidden layers' widths (or, with dropouts, their dropout probabilities) as a
   comma-separated list into out; "none" for a network without hidden layers. */
static void hidden_list(const bp_net *net, int dropouts, char *out, size_t size)
{
    const size_t L = bp_net_layer_count(net);
    size_t used = 0;
    snprintf(out, size, "none");
    for (size_t l = 1; l < L && used < size; l++) {
        const char *sep = l > 1 ? "," : "";
        used += (size_t)(dropouts ? snprintf(out + used, size - used, "%s%g", sep, bp_net_dropout(net, l))
                                  : snprintf(out + used, size - used, "%s%zu", sep, bp_net_width(net, l)));
    }
}

/* Options that shape the network cannot change a resumed one, so when given they
   must say what the checkpoint holds: otherwise `--hidden 8 --resume big.ckpt` would
   quietly go on training the checkpoint's network. 0, or EXIT_USAGE after a message. */
static int same_network_as_checkpoint(const train_run *r)
{
    const train_plan *p = &r->p;
    const bp_net *net = r->net;
    size_t L = bp_net_layer_count(net);
    const char *what = NULL;
    char given[64] = "", stored[256] = "none";
    if (cli_get(r->a, "hidden")) {
        int same = p->n_hidden + 1 == L;
        for (size_t l = 1; same && l < L; l++) same = p->hidden[l - 1] == bp_net_width(net, l);
        if (!same) {
            what = "hidden";
            snprintf(given, sizeof given, "%s", cli_get(r->a, "hidden"));
            hidden_list(net, 0, stored, sizeof stored);
        }
    }
    if (!what && cli_get(r->a, "activation") && p->net.hidden != bp_net_hidden_activation(net)) {
        what = "activation";
        snprintf(given, sizeof given, "%s", bp_activation_name(p->net.hidden));
        snprintf(stored, sizeof stored, "%s", bp_activation_name(bp_net_hidden_activation(net)));
    }
    if (!what && cli_get(r->a, "output") && p->net.output != bp_net_output_activation(net)) {
        what = "output";
        snprintf(given, sizeof given, "%s", bp_activation_name(p->net.output));
        snprintf(stored, sizeof stored, "%s", bp_activation_name(bp_net_output_activation(net)));
    }
    if (!what && cli_get(r->a, "loss") && p->net.loss != bp_net_loss_function(net)) {
        what = "loss";
        snprintf(given, sizeof given, "%s", bp_loss_name(p->net.loss));
        snprintf(stored, sizeof stored, "%s", bp_loss_name(bp_net_loss_function(net)));
    }
    if (!what && cli_get(r->a, "dropout")) {
        /* One value is for every hidden layer, however many the checkpoint has; the
           model keeps each probability as a float. */
        const int one = strchr(cli_get(r->a, "dropout"), ',') == NULL;
        int same = L > 1 || p->dropout[0] == 0; /* no hidden layer: nothing to drop */
        for (size_t l = 1; same && l < L; l++)
            same = (float)p->dropout[one ? 0 : l - 1] == (float)bp_net_dropout(net, l);
        if (!same) {
            what = "dropout";
            snprintf(given, sizeof given, "%s", cli_get(r->a, "dropout"));
            hidden_list(net, 1, stored, sizeof stored);
        }
    }
    if (!what && cli_flag(r->a, "no-bias") && bp_net_has_bias(net))
        return cli_fail(r->a, EXIT_USAGE, "--no-bias, but %s holds a network with biases: a resumed run keeps the "
                        "checkpoint's network (leave --no-bias out, or train a new one without --resume)", r->resume);
    if (!what) return 0;
    return cli_fail(r->a, EXIT_USAGE, "--%s %s, but %s holds a network with %s %s: a resumed run keeps the "
                    "checkpoint's network (leave --%s out, or train a new one without --resume)", what, given,
                    r->resume, strcmp(what, "hidden") == 0 ? "hidden layers" : what, stored, what);
}

/* The network and trainer where --resume's checkpoint left them, with the
   history of the epochs before it; the plan takes the network's shape. */
static int resume_network(train_run *r)
{
    train_plan *p = &r->p;
    const void *user = r->resumed_user;
    const size_t user_len = r->resumed_user_len;
    int code = 0;
    size_t done = bp_trainer_epochs_done(r->trainer);
    if (!fits_checkpoint(r))
        code = cli_fail(r->a, EXIT_USAGE, "%s was made with other data or preprocessing: resume with the "
                        "same --train, --labels, --normalize/--input-scale and --validation options", r->resume);
    else if (!(code = same_network_as_checkpoint(r)) && done > p->epochs)
        code = cli_fail(r->a, EXIT_USAGE, "%s has %zu epochs behind it, more than --epochs %zu: --epochs counts "
                        "them too (give at least %zu)", r->resume, done, p->epochs, done);
    else if (!code && (!history_alloc(&r->h, p->epochs) || (user && !history_decode(&r->h, user, user_len))))
        code = cli_fail(r->a, EXIT_FAILED, "%s: its training history is damaged or longer than --epochs %zu",
                        r->resume, p->epochs);
    if (code) return code;
    /* A checkpoint without the program's history (one from Python) still has its epochs
       behind it: they count, with no metrics, so the log, the plot and --json's epochs
       number the epochs as the run does. */
    double none[HISTORY_COLUMNS];
    for (int c = 0; c < HISTORY_COLUMNS; c++) none[c] = NAN;
    while (r->h.n < done) history_add(&r->h, none);
    /* Early stopping's books come with the trainer: a run whose patience had already run
       out trains no further (as the run that was never stopped did not), and the best
       epoch is known even without the program's history (a checkpoint from Python). */
    double best = INFINITY;
    size_t since = 0;
    if (p->patience && bp_trainer_get_best(r->trainer, &best, &since) == BP_OK && isfinite(best) && since < done) {
        r->h.best_epoch = done - since;
        r->h.best_val = best;
        r->stopped = since >= p->patience;
    }
    p->net.n_layers = bp_net_layer_count(r->net);
    for (size_t l = 0; l <= p->net.n_layers; l++) r->sizes[l] = bp_net_width(r->net, l);
    p->net.hidden = bp_net_hidden_activation(r->net);
    p->net.output = bp_net_output_activation(r->net);
    p->net.loss = bp_net_loss_function(r->net);
    return 0;
}

/* The --log file, starting with the epochs a resumed run has behind it. */
static int open_log(train_run *r)
{
    char why[256] = "";
    if (metrics_log_open(&r->log, r->log_path, why, sizeof why) != 0) return cli_fail(r->a, EXIT_FAILED, "%s", why);
    r->log_open = 1;
    for (size_t e = 0; e < r->h.n; e++) {
        double row[METRICS_COLUMNS] = {(double)(e + 1)};
        for (int c = 0; c < HISTORY_COLUMNS; c++) row[c + 1] = r->h.col[c][e];
        if (metrics_log_row(&r->log, row, why, sizeof why) != 0) return cli_fail(r->a, EXIT_FAILED, "%s", why);
    }
    return 0;
}

/* How the run computes and who reports: threads, the GPU, the progress bar, each
   MPI rank's share of a batch. Only rank 0 prints and writes files. */
static int configure_run(train_run *r)
{
    train_plan *p = &r->p;
    int code = cli_use_threads(r->a, r->net, p->threads);
    if (code) return code;
    bp_error err = {0};
    bp_device_options device = {.device = BP_DEVICE_CUDA, .tf32 = p->tf32};
    if (p->cuda && bp_trainer_set_device(r->trainer, &device, &err) != BP_OK)
        return cli_fail(r->a, EXIT_FAILED, "--device cuda: %s", err.message);
    /* A checkpoint does not keep the precision: --precision applies to a resumed run too. */
    if (bp_trainer_set_precision(r->trainer, p->train.precision) != BP_OK)
        return cli_fail(r->a, EXIT_USAGE, "--precision: this CPU has no bf16 products");
    bp_trainer_set_callback(r->trainer, on_step, &r->bar);
    if (r->ranks > 1)
        bp_trainer_set_parallel(r->trainer, (size_t)cli_mpi_rank(), (size_t)r->ranks, cli_mpi_allreduce, NULL);
    if (r->ranks > 1 && cli_mpi_overlap((size_t)bp_net_threads(r->net)))
        bp_trainer_set_overlap(r->trainer, cli_mpi_sum_start, cli_mpi_sum_wait);
    if (!r->leader) {
        p->quiet = 1;
        p->json = 0;
        r->log_path = r->plot_path = r->out_path = NULL;
        r->ckpt = NULL;
    }
    return r->log_path ? open_log(r) : 0;
}

/* The first lines: the network, the data, and how it will be trained. */
static void print_plan(const train_run *r)
{
    const train_plan *p = &r->p;
    printf("training ");
    for (size_t l = 0; l <= p->net.n_layers; l++) printf("%s%zu", l ? "-" : "", r->sizes[l]);
    printf(" (%s hidden, %s output, %s loss) on %zu samples from %s", bp_activation_name(p->net.hidden),
           bp_activation_name(p->net.output), bp_loss_name(p->net.loss), bp_dataset_count(r->train), r->train_path);
    if (r->valid) printf(" (%zu more held out for validation)", bp_dataset_count(r->valid));
    if (r->ranks > 1) printf(", data-parallel over %d MPI ranks", r->ranks);
    if (r->resume && r->stopped)
        printf("\nresuming from %s: early stopping ended it after epoch %zu (no better validation loss since epoch "
               "%zu), so it trains no further", r->resume, bp_trainer_epochs_done(r->trainer), r->h.best_epoch);
    else if (r->resume)
        printf("\nresuming from %s at epoch %zu", r->resume, bp_trainer_epochs_done(r->trainer) + 1);
    {
        if (p->train.optimizer == BP_OPT_LBFGS)
            printf("\nlbfgs (history %zu, tolerance %g), ", p->train.lbfgs_history ? p->train.lbfgs_history : 10,
                   p->train.tolerance ? p->train.tolerance : 1e-4);
        else if (p->train.optimizer == BP_OPT_RPROP)
            printf("\nrprop (first step %g, largest %g), ", p->train.rprop_step0 ? p->train.rprop_step0 : 0.1,
                   p->train.rprop_step_max ? p->train.rprop_step_max : 50);
        else
            printf("\n%s, learning rate %g, ", bp_optimizer_name(p->train.optimizer),
                   p->train.learning_rate ? p->train.learning_rate : bp_trainer_learning_rate(r->trainer));
        if (p->train.batch_size == 0 || p->train.optimizer == BP_OPT_RPROP || p->train.optimizer == BP_OPT_LBFGS)
            printf("full-batch");
        else printf("batch %zu", p->train.batch_size);
    }
    printf(", %zu epochs", p->epochs);
    if (p->train.precision != BP_PRECISION_FP32)
        printf(", products in bf16 (%s)", bp_precision_kernel(p->train.precision));
    printf("\n");
}

/* Why an epoch's steps failed: divergence (with what to try), or the trainer's error. */
static int report_step_failure(const train_run *r, size_t e, double lr, bp_status s)
{
    if (s == BP_ERR_NUMERIC)
        return cli_fail(r->a, EXIT_FAILED,
                        "epoch %zu, step %zu: the loss became NaN or infinite: training diverged. Try a "
                        "smaller learning rate (--lr %g), gradient clipping (--clip 1) or normalized "
                        "inputs (--normalize standardize). Nothing was written%s%s%s.",
                        e, bp_trainer_steps_done(r->trainer), lr / 10,
                        r->ckpt ? "; the last good checkpoint is " : "", r->ckpt ? r->ckpt : "",
                        r->ckpt ? " (untouched)" : "");
    const char *dev = bp_trainer_device_message(r->trainer);
    return dev[0] ? cli_fail(r->a, EXIT_FAILED, "training on the GPU: %s", dev)
                  : cli_fail_status(r->a, s, NULL, "training");
}

/* Epoch e's steps, in pieces of --checkpoint-every steps with a checkpoint after
   each, under the progress bar; until the epoch is done or a signal came.
   *seconds receives the time the steps took. */
static int train_steps(train_run *r, size_t e, double lr, bp_epoch_stats *st, double *seconds)
{
    const train_plan *p = &r->p;
    char label[32];
    snprintf(label, sizeof label, "epoch %zu/%zu", e, p->epochs);
    r->bar.quiet = p->quiet || p->json;
    progress_start(&r->bar, label, bp_dataset_count(r->train));
    double t0 = cli_now();
    bp_status s;
    int code;
    do {
        s = bp_trainer_run(r->trainer, r->train, p->checkpoint_every, st);
        if (s == BP_OK && !st->complete && r->ckpt && !interrupted &&
            (code = save_checkpoint(r->a, r->trainer, r->ckpt, &r->h, r->p.validation)))
            return code;
    } while (s == BP_OK && !st->complete && !interrupted);
    *seconds = cli_now() - t0;
    progress_finish(&r->bar);
    return s == BP_OK ? 0 : report_step_failure(r, e, lr, s);
}

/* Whether the run must end after epoch e's steps: a signal on any rank (save a
   checkpoint and say how to resume) or, under MPI, ranks whose parameters differ. */
static int check_stop(train_run *r, size_t e, const bp_epoch_stats *st)
{
    if (interrupted || (r->ranks > 1 && any_interrupted())) {
        interrupted = 1;
        if (!r->leader) return EXIT_FAILED;
        const char *to = r->ckpt ? r->ckpt : "backprop-interrupted.ckpt";
        int code = save_checkpoint(r->a, r->trainer, to, &r->h, r->p.validation);
        if (code) return code;
        return cli_fail(r->a, EXIT_FAILED, "interrupted in epoch %zu after %zu of %zu samples; saved %s. "
                        "Resume with the same command plus --resume %s", e, st->samples,
                        bp_dataset_count(r->train), to, to);
    }
    if (r->ranks > 1 && !cli_mpi_same_everywhere(bp_crc32(0, bp_net_params_const(r->net),
                                                           bp_net_param_count(r->net) * sizeof(float))))
        return cli_fail(r->a, EXIT_FAILED, "epoch %zu: the ranks' parameters differ (checksum mismatch); "
                        "stopping. Are all ranks running the same build on the same data?", e);
    return 0;
}

/* Epoch e's line: row holds its metrics in --log's columns; vm and tm are the
   validation and test metrics, NULL where there are none. */
static void print_epoch(const train_run *r, size_t e, const double *row, const bp_metrics *vm, const bp_metrics *tm)
{
    size_t epochs = r->p.epochs;
    if (r->p.json) {
        printf("{\"epoch\":%zu,\"train_loss\":", e);
        json_double(stdout, row[METRICS_TRAIN_LOSS]);
        if (vm) print_metrics_json("validation", vm);
        if (tm) print_metrics_json("test", tm);
        printf(",\"learning_rate\":");
        json_double(stdout, row[METRICS_LEARNING_RATE]);
        printf(",\"samples_per_second\":%.0f,\"elapsed\":%.3f}\n", row[METRICS_SAMPLES_PER_SECOND],
               row[METRICS_ELAPSED_SECONDS]);
    } else if (prints_text(r)) {
        printf("epoch %*zu/%zu  train loss %.4f", e < 10 && epochs < 10 ? 1 : 3, e, epochs, row[METRICS_TRAIN_LOSS]);
        if (vm) print_metrics_text("val", vm);
        if (tm) print_metrics_text("test", tm);
        printf("  %8.0f samples/s  %6.2f s\n", row[METRICS_SAMPLES_PER_SECOND], row[METRICS_ELAPSED_SECONDS]);
    }
    fflush(stdout);
}

/* After epoch e: evaluate, record, print, log and plot it; then early stopping
   and the checkpoint. */
static int finish_epoch(train_run *r, size_t e, double lr, const bp_epoch_stats *st, double seconds)
{
    bp_metrics vm = {0}, tm = {0};
    int have_v = r->valid && bp_net_evaluate(r->net, r->valid, &vm) == BP_OK;
    int have_t = r->test && bp_net_evaluate(r->net, r->test, &tm) == BP_OK;
    double rate = (double)st->samples / (seconds > 1e-9 ? seconds : 1e-9), elapsed = cli_now() - r->start;
    double row[METRICS_COLUMNS] = {(double)e, st->loss, have_v ? vm.loss : NAN,
                                   have_v && vm.accuracy >= 0 ? vm.accuracy : NAN, have_t ? tm.loss : NAN,
                                   have_t && tm.accuracy >= 0 ? tm.accuracy : NAN, lr, rate, elapsed};
    history_add(&r->h, row + 1);
    print_epoch(r, e, row, have_v ? &vm : NULL, have_t ? &tm : NULL);
    char why[256] = "";
    if (r->log_open && metrics_log_row(&r->log, row, why, sizeof why) != 0)
        return cli_fail(r->a, EXIT_FAILED, "%s", why);
    int code;
    if (r->plot_path && (code = write_plot(r->a, r->plot_path, &r->h))) return code;
    if (have_v && r->p.patience) {
        int stop = 0;
        if (vm.loss < r->h.best_val) r->h.best_val = vm.loss, r->h.best_epoch = e;
        if (bp_trainer_observe(r->trainer, vm.loss, r->p.patience, &stop) == BP_OK && stop) r->stopped = 1;
    }
    if (r->ckpt && (code = save_checkpoint(r->a, r->trainer, r->ckpt, &r->h, r->p.validation))) return code;
    return 0;
}

/* The epochs, from where the trainer stands to --epochs, with SIGINT and SIGTERM
   caught so that an interrupted run leaves a checkpoint; then the best weights
   back if early stopping was on. */
static int run_epochs(train_run *r)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* A resumed run's clock goes on from its history's, so the elapsed column keeps rising
       (epochs without metrics, from a checkpoint without the history, have none). */
    double before = 0;
    for (size_t e = r->h.n; e > 0 && before == 0; e--)
        if (isfinite(r->h.col[HISTORY_ELAPSED_SECONDS][e - 1])) before = r->h.col[HISTORY_ELAPSED_SECONDS][e - 1];
    r->start = cli_now() - before;
    int code = 0;
    for (size_t e = bp_trainer_epochs_done(r->trainer) + 1;
         e <= r->p.epochs && !r->stopped && !r->converged && !code; e++) {
        double lr = bp_trainer_learning_rate(r->trainer), seconds = 0;
        bp_epoch_stats st = {0};
        code = train_steps(r, e, lr, &st, &seconds);
        if (!code) code = check_stop(r, e, &st);
        if (!code) code = finish_epoch(r, e, lr, &st, seconds);
        if (!code && st.converged) {
            r->converged = 1;
            if (prints_text(r)) printf("lbfgs converged after %zu iterations\n", bp_trainer_steps_done(r->trainer));
        }
    }
    if (code) return code; /* finish_run puts the default handlers back */
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (r->p.patience && r->h.best_epoch) {
        bp_trainer_restore_best(r->trainer);
        if (prints_text(r))
            printf("%s; keeping the weights of epoch %zu (validation loss %.4f)\n",
                   r->stopped ? "early stop: no better validation loss" : "done", r->h.best_epoch, r->h.best_val);
    }
    return 0;
}

/* The model to -o, and the final report: the test metrics and where things went. */
static int save_and_report(const train_run *r)
{
    bp_metrics fm = {0};
    int have_final = r->test && bp_net_evaluate(r->net, r->test, &fm) == BP_OK;
    bp_error err = {0};
    bp_status s;
    if (r->out_path && (s = bp_net_save(r->net, r->out_path, &err)) != BP_OK)
        return cli_fail_status(r->a, s, &err, r->out_path);
    if (r->p.json) {
        printf("{\"done\":true,\"epochs\":%zu", r->h.n);
        if (have_final) print_metrics_json("test", &fm);
        printf(",\"seconds\":%.3f", cli_now() - r->start);
        if (r->out_path) {
            printf(",\"model\":");
            json_string(stdout, r->out_path);
        }
        printf("}\n");
    } else if (cli_mpi_rank() == 0) {
        if (have_final) {
            printf("final:");
            print_metrics_text("test", &fm);
            printf(" on %zu samples\n", bp_dataset_count(r->test));
        }
        if (r->out_path) printf("saved %s\n", r->out_path);
        else if (!r->p.quiet) printf("(the model was not saved: add -o FILE.bpm)\n");
        if (r->plot_path && !r->p.quiet) printf("plot: %s\n", r->plot_path);
    }
    return EXIT_OK;
}

/* Free everything the run holds and return its exit code. */
static int finish_run(train_run *r, int code)
{
    /* A rank that fails alone would leave the others waiting in an allreduce: end the job. */
    if (code != EXIT_OK && cli_mpi_size() > 1 && !interrupted) cli_mpi_abort(code);
    if (r->log_open) metrics_log_close(&r->log, NULL, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    history_free(&r->h);
    free(r->resumed_user);
    bp_trainer_free(r->trainer);
    bp_net_free(r->net);
    bp_dataset_free(r->all);
    bp_dataset_free(r->train);
    bp_dataset_free(r->valid);
    bp_dataset_free(r->test);
    free(r->class_names);
    free(r->shift);
    free(r->scale);
    return code;
}

static int run_train(cli_args *a)
{
    train_run r;
    int code = start_run(a, &r);
    if (code) { /* refused options: only a checkpoint read for --resume is held */
        free(r.resumed_user);
        bp_trainer_free(r.trainer);
        bp_net_free(r.net);
        return code;
    }
    code = read_data(&r);
    if (!code) code = preprocess(&r);
    if (!code) code = r.resume ? resume_network(&r) : new_network(&r);
    if (!code) code = configure_run(&r);
    if (!code) {
        if (prints_text(&r)) print_plan(&r);
        code = run_epochs(&r);
    }
    if (!code) code = save_and_report(&r);
    return finish_run(&r, code);
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
    "and predict take raw data. Training data must hold at least two classes. An\n"
    "option that the others make pointless (--momentum with adam, --gamma without\n"
    "--schedule step, --lr with rprop) is a usage error that names what it needs.",
    train_options, sizeof train_options / sizeof train_options[0], 0, run_train};
