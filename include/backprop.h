/*
 * backprop.h - the public interface of libbackprop.
 *
 * libbackprop trains fully connected feed-forward networks by backpropagation
 * and gradient descent. Notation follows docs/backprop.md: layer l = 1..L has
 *
 *     z^l = W^l a^(l-1) + b^l,   a^l = g^l(z^l),   a^0 = x
 *
 * with W^l of shape n_l x n_(l-1). A mini-batch of m samples is stored sample
 * after sample (row s of an m x n array is sample s), which is the seeds'
 * "samples as columns" matrix A (n x m) in column-major order.
 *
 * The library never prints, exits or aborts: every fallible function returns a
 * bp_status, and functions that read files also fill an optional bp_error with
 * a message naming the file and the place in it.
 *
 * Threads: handles are not shared-safe. Two threads may use two different
 * networks, trainers and data sets at the same time (there is no global mutable
 * state); one handle must not be used by two threads at once. A bp_dataset that
 * no thread modifies may be read by several threads.
 */
#ifndef BACKPROP_H
#define BACKPROP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function below is part of the library's ABI (docs/API.md lists them). The library
 * is built with -fvisibility=hidden, so only what is marked BP_API is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define BP_API __attribute__((visibility("default")))
#else
#define BP_API
#endif

/* ------------------------------------------------------------------ status */

/** Result of every fallible call. BP_OK is zero; everything else is an error. */
typedef enum {
    BP_OK = 0,
    BP_ERR_ARG,         /**< an argument is invalid (null, zero size, bad combination) */
    BP_ERR_NOMEM,       /**< memory allocation failed or a size would overflow */
    BP_ERR_IO,          /**< a file could not be opened, read or written */
    BP_ERR_FORMAT,      /**< a file's contents are malformed, truncated or damaged */
    BP_ERR_UNSUPPORTED, /**< valid but not supported by this build or version */
    BP_ERR_NUMERIC      /**< a NaN or infinity appeared where a number was needed */
} bp_status;

/** A short English description of a status code; never NULL. */
BP_API const char *bp_status_message(bp_status status);

/** Details of a failure: the status plus a message naming file, line and column
 *  (or byte offset) where that applies. Pass NULL where you do not need it. */
typedef struct {
    bp_status status;
    char message[512];
} bp_error;

/* ----------------------------------------------------------- network shape */

/** Element-wise activations g (softmax is the one exception: it couples a layer's units). */
typedef enum {
    BP_ACT_IDENTITY = 0,
    BP_ACT_SIGMOID,
    BP_ACT_TANH,
    BP_ACT_RELU,
    BP_ACT_LEAKY_RELU, /**< g(z) = z for z > 0, 0.01 z otherwise */
    BP_ACT_SOFTMAX     /**< output layer only */
} bp_activation;

/** Loss functions C. All are averaged over the batch unless BP_REDUCE_SUM is asked for.
 *  MSE: C = 1/2 ||a - y||^2 per sample, any output activation.
 *  CE:  C = -sum_i y_i log softmax(z)_i, needs a softmax output.
 *  BCE: C = -sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)], needs a sigmoid output.
 *  CE and BCE are computed from z (log-sum-exp, softplus) so they stay finite. */
typedef enum {
    BP_LOSS_MSE = 0,
    BP_LOSS_CE,
    BP_LOSS_BCE
} bp_loss;

/** How per-sample losses and gradients combine over a batch. */
typedef enum {
    BP_REDUCE_MEAN = 0, /**< (1/m) sum over samples (the default) */
    BP_REDUCE_SUM       /**< plain sum over samples (seed 003's convention) */
} bp_reduction;

/** Name of an activation ("relu", ...), loss ("mse", ...) or reduction ("mean", ...). */
BP_API const char *bp_activation_name(bp_activation act);
BP_API const char *bp_loss_name(bp_loss loss);
BP_API const char *bp_reduction_name(bp_reduction reduction);
/** Parse a name as printed by the functions above. Returns BP_ERR_ARG if unknown (or NULL);
 *  out may be NULL to check a name only. */
BP_API bp_status bp_activation_parse(const char *name, bp_activation *out);
BP_API bp_status bp_loss_parse(const char *name, bp_loss *out);
BP_API bp_status bp_reduction_parse(const char *name, bp_reduction *out);

/** Largest number of weight layers and largest width a network may have. */
#define BP_MAX_LAYERS 64
#define BP_MAX_WIDTH (1 << 24)
/** Most pieces a layer's gradient is summed in when the sums overlap the backward pass
 *  (bp_train_config.allreduce_start): a step has at most BP_MAX_LAYERS times this many. */
#define BP_LAYER_PIECES 4

/** Architecture of a network. sizes has n_layers + 1 entries: n_0 (inputs) .. n_L (outputs). */
typedef struct {
    size_t n_layers;          /**< L, the number of weight layers, 1..BP_MAX_LAYERS */
    const size_t *sizes;      /**< n_0 .. n_L, each 1..BP_MAX_WIDTH */
    bp_activation hidden;     /**< g for layers 1..L-1 (not softmax) */
    bp_activation output;     /**< g^L */
    bp_loss loss;             /**< the cost the network is trained on */
    int bias;                 /**< nonzero: layers have biases b^l; zero: z = W a only */
    uint64_t seed;            /**< initialization seed: same seed, bitwise same weights */
    /** Dropout: NULL for none, else n_layers - 1 values, p^1 .. p^(L-1), each in [0, 1): while
     *  training, every unit of hidden layer l is dropped with probability p^l and the kept
     *  ones are scaled by 1 / (1 - p^l) (inverted dropout), so nothing changes at inference.
     *  Masks come from the trainer's seed and step count, the same at every thread count.
     *  Stored in model files. Not with L-BFGS, several processes or the CUDA path. */
    const double *dropout;
    /** Initialization range r: 0 (the default) for He and Xavier as bp_net_create says;
     *  r > 0 draws every weight and every bias uniform in [-r, r] from `seed` instead
     *  (FANN's fann_randomize_weights(-r, r); FANN itself uses 0.1). Finite, at most 1e30.
     *  Only creation reads it: model files keep the weights, not how they were drawn. */
    double init_range;
} bp_net_config;

/** Check a configuration without building anything. On failure, err says what is wrong. */
BP_API bp_status bp_net_config_check(const bp_net_config *config, bp_error *err);

/* ----------------------------------------------------------------- network */

/** A network: its parameters, their gradients and a work space sized per batch. Opaque. */
typedef struct bp_net bp_net;

/** Create a network and initialize it: He-normal weights for the ReLU family,
 *  Xavier-uniform otherwise, zero biases, all from config->seed; with config->init_range
 *  r > 0, every weight and bias uniform in [-r, r] from the seed instead. */
BP_API bp_status bp_net_create(const bp_net_config *config, bp_net **out, bp_error *err);
/** Free a network; NULL is ignored. */
BP_API void bp_net_free(bp_net *net);
/** Make an independent copy of a network's shape and parameters (not its gradients). */
BP_API bp_status bp_net_clone(const bp_net *net, bp_net **out);

/** How many threads share this network's products (forward, backward, training
 *  and evaluation): 1, the default, keeps all work on the calling thread; 0
 *  means bp_default_threads(). The threads are started here, once, and sleep
 *  when idle; bp_net_free stops them. Products too small to gain are not
 *  split. Results are bitwise the same for every thread count, because work is
 *  split by output elements, never inside a sum. Clones and loaded networks
 *  start with 1. On failure (threads outside 0..256: BP_ERR_ARG; no memory or
 *  no thread could start: BP_ERR_NOMEM; more than one in a WebAssembly build
 *  without threads, such as the playground's: BP_ERR_UNSUPPORTED) the network
 *  keeps its previous setting. */
BP_API bp_status bp_net_set_threads(bp_net *net, int threads, bp_error *err);
/** Threads set by bp_net_set_threads (1 unless changed). */
BP_API int bp_net_threads(const bp_net *net);
/** Physical cores this process may run on (CPU affinity, hyperthreads counted
 *  once); the online CPU count where the system does not say. At least 1. */
BP_API int bp_default_threads(void);

/** Shape queries. Layers are numbered 1..L; bp_net_width(net, 0) is the input width. A NULL
 *  network or a layer out of range gives 0 (BP_ACT_IDENTITY, BP_LOSS_MSE: the enums' zeros). */
BP_API size_t bp_net_layer_count(const bp_net *net);
BP_API size_t bp_net_width(const bp_net *net, size_t layer);
BP_API bp_activation bp_net_hidden_activation(const bp_net *net);
BP_API bp_activation bp_net_output_activation(const bp_net *net);
BP_API bp_loss bp_net_loss_function(const bp_net *net);
BP_API int bp_net_has_bias(const bp_net *net);
/** Dropout probability p^l of hidden layer l (1..L-1) while training; 0 for none. */
BP_API double bp_net_dropout(const bp_net *net, size_t layer);
/** Fix the dropout masks for the passes that differentiate (bp_net_backward,
 *  bp_net_compute_loss, and backprop_verify.h's reference and finite differences), so a
 *  gradient with dropout can be checked: masks holds, for l = 1..L-1 in turn, m x n_l
 *  factors that multiply a^l (0 drops a unit; 1 / (1 - p^l) keeps it under inverted
 *  dropout), copied. Those passes then accept only batches of m samples. NULL removes them;
 *  training draws its own and never uses these. */
BP_API bp_status bp_net_set_dropout_mask(bp_net *net, const float *masks, size_t m);

/** Total number of parameters (every W and b). */
BP_API size_t bp_net_param_count(const bp_net *net);

/** All parameters in one block: for l = 1..L, W^l row-major (n_l x n_(l-1)), then b^l.
 *  The gradient block has the same layout. Pointers stay valid for the net's life. */
BP_API float *bp_net_params(bp_net *net);
BP_API const float *bp_net_params_const(const bp_net *net);
BP_API float *bp_net_grads(bp_net *net);
/** Views of one layer's W^l, b^l (NULL without biases) and their gradients. */
BP_API bp_status bp_net_layer_view(bp_net *net, size_t layer, float **W, float **b, float **grad_W, float **grad_b);

/** Views of z^l and a^l (m x n_l, row s = sample s) from the last forward or backward
 *  call; valid until the next call on this net. Layer 0 is not stored (a^0 is your x).
 *  Hidden layers keep only a^l (every hidden g' is computed from a): *z is NULL there. */
BP_API bp_status bp_net_layer_activations(const bp_net *net, size_t layer, const float **z, const float **a);

/** Forward pass over a batch: x is m x n_0, out (may be NULL) receives a^L, m x n_L.
 *  The pass keeps z^l and a^l for a following backward call. A row's outputs are bitwise
 *  the same whatever other rows the batch holds, from m = 4 on; 1 to 3 rows are multiplied
 *  in another order (without packing, faster) and can differ in the last bits. The command
 *  line and the Python package add zero rows to such batches. */
BP_API bp_status bp_net_forward(bp_net *net, const float *x, size_t m, float *out);

/** Forward, loss and backward over a batch: fills the gradient block with dC/dW, dC/db
 *  for targets y (m x n_L) and returns the loss (mean or sum as asked) in *loss (may be
 *  NULL). A reduction other than the two named is BP_ERR_ARG, here and in every call
 *  that takes one. */
BP_API bp_status bp_net_backward(bp_net *net, const float *x, const float *y, size_t m,
                                 bp_reduction reduction, double *loss);

/** Loss of a batch without touching the gradients. */
BP_API bp_status bp_net_compute_loss(bp_net *net, const float *x, const float *y, size_t m,
                                   bp_reduction reduction, double *loss);

/** Store an input transform with the model (x' = (x - shift) * scale, n_0 values each),
 *  so whoever loads it can prepare raw inputs the same way. NULL, NULL removes it. The
 *  network's own forward pass does not apply it: apply it to data with
 *  bp_dataset_apply_transform or bp_net_apply_input_transform. A NaN or infinite value
 *  gives BP_ERR_NUMERIC and the network keeps the transform it had. */
BP_API bp_status bp_net_set_input_transform(bp_net *net, const float *shift, const float *scale);
/** The stored transform: returns 1 and sets the pointers if there is one, else 0. */
BP_API int bp_net_get_input_transform(const bp_net *net, const float **shift, const float **scale);
/** Apply the stored transform (if any) to m samples in place. */
BP_API void bp_net_apply_input_transform(const bp_net *net, float *x, size_t m);
/** Name the n_L outputs as classes (copied; stored in the model file). NULL removes them. */
BP_API bp_status bp_net_set_class_names(bp_net *net, const char *const *names, size_t n);
/** Name of output k, or NULL when the model has no class names. */
BP_API const char *bp_net_class_name(const bp_net *net, size_t k);

/** Save a network to a .bpm file (written to a temporary file, synced and renamed). */
BP_API bp_status bp_net_save(const bp_net *net, const char *path, bp_error *err);
/** Load a network from a .bpm file, refusing damaged or truncated files. */
BP_API bp_status bp_net_load(const char *path, bp_net **out, bp_error *err);
/** The same from memory (for embedding and fuzzing). name is used in messages. */
BP_API bp_status bp_net_load_memory(const void *data, size_t size, const char *name, bp_net **out,
                                    bp_error *err);

/* ----------------------------------------------------------------- data set */

/** Samples with inputs and targets, each a contiguous float block (n x n_in, n x n_out). */
typedef struct bp_dataset bp_dataset;

/** Create an empty (zero-filled) data set of n samples. n_out may be 0 for inputs without
 *  targets (data to predict on). */
BP_API bp_status bp_dataset_create(size_t n, size_t n_in, size_t n_out, bp_dataset **out);
/** A data set over the caller's memory, without a copy: x (n x n_in floats, row by row)
 *  and y (n x n_out, NULL when n_out is 0) must stay alive and unchanged for as long as
 *  the data set is used; bp_dataset_free frees only the data set itself. It is read-only:
 *  bp_dataset_x and bp_dataset_y give NULL and bp_dataset_apply_transform refuses it
 *  (BP_ERR_ARG); make a copy with bp_dataset_subset to change it. */
BP_API bp_status bp_dataset_wrap(size_t n, size_t n_in, size_t n_out, const float *x, const float *y,
                                 bp_dataset **out);
BP_API void bp_dataset_free(bp_dataset *data);
BP_API size_t bp_dataset_count(const bp_dataset *data);
BP_API size_t bp_dataset_inputs(const bp_dataset *data);
BP_API size_t bp_dataset_outputs(const bp_dataset *data);
/** Writable inputs and targets; NULL for a data set made by bp_dataset_wrap. */
BP_API float *bp_dataset_x(bp_dataset *data);
BP_API float *bp_dataset_y(bp_dataset *data);          /**< NULL when the data set has no targets */
BP_API const float *bp_dataset_x_const(const bp_dataset *data);
BP_API const float *bp_dataset_y_const(const bp_dataset *data);

/** Class names of a data set whose targets are one-hot classes read from text labels
 *  (k < bp_dataset_outputs). NULL when the classes are plain numbers or there are none. */
BP_API const char *bp_dataset_class_name(const bp_dataset *data, size_t k);
/** Give the data set's one-hot outputs names (copied). n must equal bp_dataset_outputs and
 *  no name may be NULL (BP_ERR_ARG); names NULL removes them. */
BP_API bp_status bp_dataset_set_class_names(bp_dataset *data, const char *const *names, size_t n);

/** How the target columns of a CSV file are read. */
typedef enum {
    BP_TARGET_CLASS = 0, /**< the last column is a class: a whole number 0..K-1 or a text
                              label (classes then sorted by name), one-hot encoded */
    BP_TARGET_VALUES,    /**< the last n_targets columns are real-valued targets */
    BP_TARGET_NONE       /**< every column is an input (data to predict on) */
} bp_target_kind;

/** Options for bp_dataset_read_csv. Zero-initialize for the defaults. */
typedef struct {
    bp_target_kind target;
    size_t n_targets;  /**< VALUES: number of target columns (default 1); CLASS: number of
                            classes, 0 to take it from the data */
    int header;        /**< -1: no header, 0: detect (default), 1: first line is a header */
    const char *const *class_names; /**< CLASS: use this mapping (e.g. the training set's)
                                         instead of building one; n_targets names */
} bp_csv_options;

/** Read a CSV file (comma, semicolon or tab separated; gzip-compressed files too).
 *  Errors name file:line:column. */
BP_API bp_status bp_dataset_read_csv(const char *path, const bp_csv_options *options, bp_dataset **out,
                                     bp_error *err);
/** The same from CSV text in memory (gzip-compressed text is accepted too); name is used
 *  in messages. */
BP_API bp_status bp_dataset_read_csv_memory(const void *text, size_t len, const char *name,
                                            const bp_csv_options *options, bp_dataset **out,
                                            bp_error *err);
/** Write a data set as CSV: inputs, then the class name or number (one-hot targets with
 *  names or class data) or the target values. Locale-independent; written atomically. */
BP_API bp_status bp_dataset_write_csv(const bp_dataset *data, const char *path, bp_error *err);

/** Read IDX files (MNIST, Fashion-MNIST): images (any item shape, unsigned bytes or other
 *  IDX types) as inputs with their raw values, labels (1-D, unsigned bytes) as one-hot
 *  targets over max label + 1 classes (at least n_classes when nonzero). Plain or gzip
 *  (.gz). labels may be NULL for inputs only. Sizes are checked against the file before any
 *  allocation; errors name the file and byte offset. */
BP_API bp_status bp_dataset_read_idx(const char *images, const char *labels, size_t n_classes,
                                     bp_dataset **out, bp_error *err);

/** Read FANN's text data format: a line "samples inputs outputs", then for each sample a
 *  line of inputs and a line of outputs. Errors name file:line:column. */
BP_API bp_status bp_dataset_read_fann(const char *path, bp_dataset **out, bp_error *err);
/** Write a data set in FANN's text data format (atomically). */
BP_API bp_status bp_dataset_write_fann(const bp_dataset *data, const char *path, bp_error *err);

/** A new data set holding the samples idx[0..n) of data, in that order. */
BP_API bp_status bp_dataset_subset(const bp_dataset *data, const size_t *idx, size_t n, bp_dataset **out);
/** Shuffle with seed and split: *first gets the first n - round(fraction n) samples,
 *  *second the rest (validation split). Both must be freed; data is unchanged. */
BP_API bp_status bp_dataset_split(const bp_dataset *data, double fraction, uint64_t seed,
                                  bp_dataset **first, bp_dataset **second);

/** Input normalization, computed on the training set and stored with the model. */
typedef enum {
    BP_NORMALIZE_NONE = 0,
    BP_NORMALIZE_MINMAX,      /**< x' = (x - min) / (max - min): each input to [0, 1] */
    BP_NORMALIZE_STANDARDIZE  /**< x' = (x - mean) / std: zero mean, unit variance */
} bp_normalize;

/** Per-input shift and scale (x' = (x - shift) * scale) for a normalization, from the data.
 *  Constant inputs get scale 1. shift and scale hold bp_dataset_inputs values each.
 *  BP_ERR_NUMERIC when an input holds an infinity or NaN, or its range is too narrow for
 *  1 / range to be a float: no finite transform exists for it. */
BP_API bp_status bp_dataset_input_stats(const bp_dataset *data, bp_normalize mode, float *shift,
                                        float *scale);
/** Apply x' = (x - shift) * scale to every sample's inputs, in place. */
BP_API bp_status bp_dataset_apply_transform(bp_dataset *data, const float *shift, const float *scale);

/* ----------------------------------------------------------------- training */

/** Parameter update rules. */
typedef enum {
    BP_OPT_SGD = 0,    /**< W <- W - eta g (with momentum > 0: heavy-ball momentum) */
    BP_OPT_MOMENTUM,   /**< v <- mu v + g; W <- W - eta v */
    BP_OPT_NESTEROV,   /**< v <- mu v + g; W <- W - eta (g + mu v) */
    BP_OPT_ADAM,       /**< Adam with bias correction; weight decay added to g (L2) */
    BP_OPT_ADAMW,      /**< Adam with decoupled weight decay: W <- W - eta wd W first */
    BP_OPT_RPROP,      /**< iRPROP-: per-parameter steps from gradient signs; full batch */
    BP_OPT_LBFGS       /**< limited-memory BFGS with a strong-Wolfe line search; full batch, one
                            iteration (several loss-and-gradient evaluations) per epoch */
} bp_optimizer;

/** Learning-rate schedules (an optional linear warm-up comes first). */
typedef enum {
    BP_SCHEDULE_CONSTANT = 0,
    BP_SCHEDULE_STEP,    /**< eta gamma^floor(epoch / step_epochs) */
    BP_SCHEDULE_COSINE   /**< eta_min + (eta - eta_min) (1 + cos(pi epoch / epochs)) / 2 */
} bp_schedule;

BP_API const char *bp_optimizer_name(bp_optimizer opt);
BP_API bp_status bp_optimizer_parse(const char *name, bp_optimizer *out);
BP_API const char *bp_schedule_name(bp_schedule schedule);
BP_API bp_status bp_schedule_parse(const char *name, bp_schedule *out);

/** The arithmetic of training's matrix products (forward, delta, weight gradient).
 *  The parameters, the loss, the optimizer and every element-wise step stay float32;
 *  only the products' operands are rounded. */
typedef enum {
    BP_PRECISION_FP32 = 0,      /**< float32 throughout (the default) */
    BP_PRECISION_BF16,          /**< mixed precision: each product's operands (W and the
                                     activations or deltas) rounded to bfloat16 as they are
                                     packed, float32 sums, float32 master weights; on AMX-BF16
                                     tiles or AVX512_BF16, whichever is best here.
                                     bp_trainer_create fails with BP_ERR_UNSUPPORTED on a CPU
                                     with neither (bp_precision_kernel says) */
    BP_PRECISION_BF16_EMULATED  /**< the same arithmetic in portable C on any CPU: several
                                     times slower than float32, for tests and for checking what
                                     bf16 does to a model on a machine without it */
} bp_precision;

/** Which product kernel this CPU runs for a precision, in words ("AMX-BF16 tiles
 *  32x32", "AVX-512 12x32 + AVX2 6x16", ...), or NULL when it has none for it
 *  (BP_PRECISION_BF16 without AMX-BF16 or AVX512_BF16) or the value is unknown. The
 *  first question about bf16 asks Linux for the AMX tile state, once per process. */
BP_API const char *bp_precision_kernel(bp_precision precision);

/** Training settings. Zero-initialize, then set what you need: zero means the default. */
typedef struct {
    double learning_rate;    /**< eta; default 0.1 when zero (0.001 for Adam/AdamW) */
    double momentum;         /**< mu for momentum/Nesterov (default 0.9 there); with plain SGD,
                                  a nonzero value turns on momentum */
    size_t batch_size;       /**< 1 = per-sample, k = mini-batch, 0 = the whole data set */
    bp_reduction reduction;  /**< mean (default) or sum over each batch */
    int no_shuffle;          /**< nonzero keeps the data set's order every epoch */
    uint64_t seed;           /**< seed of the shuffling generator */
    bp_optimizer optimizer;  /**< default SGD */
    double beta1, beta2;     /**< Adam's decay rates (default 0.9, 0.999) */
    double epsilon;          /**< Adam's denominator guard (default 1e-8) */
    double weight_decay;     /**< L2 penalty lambda on all parameters (0: none) */
    double clip_norm;        /**< rescale the gradient when its 2-norm exceeds this (0: never) */
    bp_schedule schedule;    /**< default constant */
    double step_epochs;      /**< STEP: epochs between decays (default 10) */
    double gamma;            /**< STEP: decay factor (default 0.1) */
    double min_lr;           /**< COSINE: the final learning rate (default 0) */
    size_t epochs;           /**< COSINE: the length of the schedule in epochs (required) */
    double warmup_epochs;    /**< linear warm-up from 0 over this many epochs (0: none) */
    /** Called after every step (every few thousand samples on the tiny-network path) with
     *  the samples done so far in the epoch and the epoch's total, for progress bars; may be
     *  NULL. Returning nonzero stops the epoch there (bp_epoch_stats.complete is then 0 and
     *  the next call continues where it stopped). */
    int (*on_step)(void *context, size_t done, size_t total);
    void *context;
    /** Data-parallel training (for example one process per MPI rank): this process is
     *  `rank` of `ranks` and computes the gradient of its share of every global batch;
     *  `allreduce` must replace values[0..n) by their element-wise sum over all processes
     *  and return 0 (values: the gradient block, then the share's summed loss). It must add
     *  in the same order on every process, as MPI_Allreduce does, so that all processes
     *  keep the same bits. Every process then applies the same update, so the model stays
     *  the same everywhere and means what one process training on the whole batch would
     *  give, up to float rounding. NULL allreduce: one process. Not stored in checkpoints. */
    size_t rank, ranks;
    int (*allreduce)(void *context, float *values, size_t n);
    void *allreduce_context;
    /** Optional, with allreduce: sum the block in pieces while the backward pass runs,
     *  instead of in one call after it. allreduce_start is called for each piece as soon
     *  as it is final: a layer's gradient, or for a large layer a block of its rows (up
     *  to BP_LAYER_PIECES blocks of at least 65,536 floats), the last layer first and
     *  each piece ending where the one before began (the first ends with the summed
     *  loss). It must begin replacing values[0..n) by their sum over all processes and
     *  may return before that is done. allreduce_wait is called before the update and
     *  must return once every piece started is summed. Both return 0 on success, take
     *  allreduce_context, and follow allreduce's rule on the order of additions; every
     *  process starts the same pieces in the same order. */
    int (*allreduce_start)(void *context, float *values, size_t n);
    int (*allreduce_wait)(void *context);
    /** L-BFGS (BP_OPT_LBFGS) only. It minimizes the mean loss over the whole data set plus
     *  weight_decay / 2 ||p||^2, one iteration per epoch, and stops (bp_epoch_stats.converged)
     *  when the largest |dC/dp| is at most `tolerance`, when an iteration lowers the loss by
     *  a relative 2.2e-9 or less, or after `max_evaluations` evaluations of the loss and its
     *  gradient. batch_size, reduction, shuffling, schedules and clipping do not apply; it
     *  trains on one process, on the CPU, without dropout. */
    size_t lbfgs_history;    /**< (s, y) pairs kept (default 10, at most 1000) */
    double tolerance;        /**< gradient tolerance (default 1e-4, scikit-learn's tol) */
    size_t max_evaluations;  /**< cap on evaluations over the whole run (default 15000) */
    /** The products' arithmetic (default float32). It applies while the trainer trains
     *  (bp_trainer_step, _epoch, _run), on the CPU: the tiny per-sample path and the GPU
     *  compute in float32 whatever it says, and bp_net_forward, bp_net_evaluate and the
     *  rest use float32 outside training. Not stored in checkpoints (a checkpoint resumes
     *  on any CPU): set it again with bp_trainer_set_precision. */
    bp_precision precision;
    /** RPROP (BP_OPT_RPROP) only: every parameter's first step (default 0.1 when zero) and
     *  its largest step (default 50 when zero), FANN's fann_set_rprop_delta_zero and
     *  _delta_max. Each finite, from 1e-6 (the smallest step) to 1e30, and rprop_step0 <=
     *  rprop_step_max once the defaults are in; else bp_trainer_create returns BP_ERR_ARG.
     *  Stored in checkpoints. */
    double rprop_step0;
    double rprop_step_max;
} bp_train_config;

/** A trainer: optimizer state, shuffling generator and the epoch counter. Opaque. */
typedef struct bp_trainer bp_trainer;

/** Statistics of one epoch. */
typedef struct {
    double loss;     /**< mean per-sample loss over the epoch (before each step's update) */
    size_t steps;    /**< parameter updates made */
    size_t samples;  /**< samples seen in this epoch so far */
    int complete;    /**< 1 when the epoch ended, 0 when it was stopped early (on_step, max_steps) */
    int converged;   /**< L-BFGS: 1 once it has stopped (bp_train_config.tolerance); further
                          epochs change nothing. 0 for every other optimizer */
} bp_epoch_stats;

BP_API bp_status bp_trainer_create(bp_net *net, const bp_train_config *config, bp_trainer **out);
BP_API void bp_trainer_free(bp_trainer *trainer);
/** One gradient step on one batch (m x n_0 inputs, m x n_L targets). For plain gradient
 *  descent and momentum the update is applied inside the backward pass, so the network's
 *  gradient block is not written; call bp_net_backward to see a gradient. L-BFGS has no
 *  single-batch step: BP_ERR_UNSUPPORTED (train it with bp_trainer_epoch). */
BP_API bp_status bp_trainer_step(bp_trainer *trainer, const float *x, const float *y, size_t m,
                                 double *loss);
/** One pass over the data set in batches, reshuffled each epoch unless no_shuffle. */
BP_API bp_status bp_trainer_epoch(bp_trainer *trainer, const bp_dataset *data, bp_epoch_stats *stats);
/** Continue the current epoch for at most max_steps steps (0: to its end). Statistics are
 *  those of the whole epoch so far. A checkpoint taken between calls resumes mid-epoch. */
BP_API bp_status bp_trainer_run(bp_trainer *trainer, const bp_dataset *data, size_t max_steps,
                                bp_epoch_stats *stats);
/** Epochs completed so far, steps (updates) made so far by bp_trainer_epoch and
 *  bp_trainer_run (bp_trainer_step's are not counted), and the learning rate the next step
 *  will use. After BP_ERR_NUMERIC, steps_done names the step that diverged. NULL gives 0. */
BP_API size_t bp_trainer_epochs_done(const bp_trainer *trainer);
BP_API size_t bp_trainer_steps_done(const bp_trainer *trainer);
BP_API double bp_trainer_learning_rate(const bp_trainer *trainer);
/** The settings the trainer trains with, its defaults filled in (for a trainer from
 *  bp_checkpoint_load: the checkpoint's, with the learning rate bp_trainer_set_learning_rate
 *  last set), into *out; the callbacks and data-parallel fields as last set. For a program
 *  that resumes a run and must check what the user asked against what the run does.
 *  BP_ERR_ARG for NULL arguments. */
BP_API bp_status bp_trainer_get_config(const bp_trainer *trainer, bp_train_config *out);
/** Change the base learning rate eta from the next step on; the schedule and warm-up
 *  then scale the new value as they scaled the old one, and checkpoints keep it. For
 *  rules that adapt eta between epochs (scikit-learn's invscaling and adaptive, which the
 *  Python package binds). BP_ERR_ARG unless eta is finite and above zero;
 *  BP_ERR_UNSUPPORTED while the trainer runs on a GPU, whose step keeps the rate it began with. */
BP_API bp_status bp_trainer_set_learning_rate(bp_trainer *trainer, double learning_rate);

/** Early stopping: report the validation loss after an epoch. The trainer keeps a copy of
 *  the parameters with the lowest loss so far; *stop becomes 1 once `patience` epochs in a
 *  row brought no improvement. */
BP_API bp_status bp_trainer_observe(bp_trainer *trainer, double validation_loss, size_t patience,
                                    int *stop);
/** Put the best parameters seen by bp_trainer_observe back into the network. */
BP_API bp_status bp_trainer_restore_best(bp_trainer *trainer);
/** Early stopping's books as bp_trainer_observe keeps them (checkpoints carry them): the
 *  lowest validation loss observed into *best_loss (INFINITY while no parameters are kept)
 *  and the epochs observed since it into *epochs_since (0 then); either may be NULL. A
 *  resumed run reads them to learn whether its patience had already run out, and which
 *  epoch bp_trainer_restore_best goes back to. BP_ERR_ARG for a NULL trainer. */
BP_API bp_status bp_trainer_get_best(const bp_trainer *trainer, double *best_loss, size_t *epochs_since);
/** Replace the progress callback (it is not saved in checkpoints). */
BP_API void bp_trainer_set_callback(bp_trainer *trainer, int (*on_step)(void *, size_t, size_t),
                                    void *context);
/** Set (or, with allreduce NULL, clear) data-parallel training as in bp_train_config;
 *  used after bp_checkpoint_load, since a checkpoint does not depend on the rank count. */
BP_API bp_status bp_trainer_set_parallel(bp_trainer *trainer, size_t rank, size_t ranks,
                                         int (*allreduce)(void *, float *, size_t), void *context);
/** Set (or, with both NULL, clear) the overlapped sums of bp_train_config
 *  (allreduce_start, allreduce_wait); they take the context given to set_parallel. */
BP_API bp_status bp_trainer_set_overlap(bp_trainer *trainer, int (*start)(void *, float *, size_t),
                                        int (*wait)(void *));
/** Change the products' arithmetic (bp_train_config.precision), for example after
 *  bp_checkpoint_load. BP_ERR_UNSUPPORTED when this CPU cannot do it (the trainer keeps
 *  its previous setting), BP_ERR_ARG for an unknown value. */
BP_API bp_status bp_trainer_set_precision(bp_trainer *trainer, bp_precision precision);

/* ------------------------------------------------------------------ devices */

/** Where a trainer computes. */
typedef enum {
    BP_DEVICE_CPU = 0,
    BP_DEVICE_CUDA      /**< an NVIDIA GPU through CUDA and cuBLAS (built with make CUDA=1) */
} bp_device;

/** CUDA devices this process can use: 0 in a build without CUDA or where none is visible. */
BP_API int bp_cuda_devices(void);

/** Which step path the CUDA trainer takes (bp_device_options.cuda_path). */
typedef enum {
    BP_CUDA_PATH_AUTO = 0, /**< the trainer's choice from the network and the batch size */
    BP_CUDA_PATH_PRODUCTS, /**< cuBLASLt products and kernels, replayed as CUDA graphs */
    BP_CUDA_PATH_FUSED     /**< one cooperative kernel per run; an error where it cannot run */
} bp_cuda_path;

/** Where and how a trainer computes. Zero-initialize, then set what you need: zero
 *  means the default everywhere. Every field after tf32 is for tests and for measuring
 *  the GPU's step paths against each other (docs/GPU.md); training needs none of them. */
typedef struct {
    bp_device device;      /**< BP_DEVICE_CPU (default) or BP_DEVICE_CUDA */
    int tf32;              /**< CUDA: nonzero lets cuBLAS use TF32 tensor cores (faster, about
                                1e-3 relative precision); zero keeps full fp32 */
    bp_cuda_path cuda_path;/**< CUDA: force a step path (default: automatic) */
    int fused_tail;        /**< CUDA fused path: the first layer computed one sample per block
                                (0: the kernel's choice from the weights' sizes) */
    int fused_no_carry;    /**< CUDA fused path: nonzero turns off carrying the next step's
                                first-layer products in the weight updates */
    int no_head;           /**< CUDA products path: nonzero computes a small last layer as
                                products too, instead of its two "head" kernels */
    int profile;           /**< CUDA fused path: time each phase on the device; after a run,
                                bp_trainer_device_message gives the averages */
} bp_device_options;

/** Move a trainer's epochs to a device (options NULL or device BP_DEVICE_CPU moves them
 *  back). On CUDA, bp_trainer_run and bp_trainer_epoch upload the data set once (it must
 *  not change while it is trained on), keep parameters, batches and the loss on the GPU,
 *  replay each step as a CUDA graph, and copy the parameters (and momentum) back into the
 *  network when they return, so evaluation, checkpoints and saving work as before and a
 *  model trained on one device loads on the other. Same shuffle as on the CPU; float sums
 *  in another order, so results agree to rounding, not bitwise. bp_trainer_step always
 *  runs on the CPU. Supported on CUDA so far: SGD and momentum (with weight decay),
 *  constant learning rate, no clipping, one process; anything else, a build without CUDA
 *  or no device fails with BP_ERR_UNSUPPORTED and err says why. */
BP_API bp_status bp_trainer_set_device(bp_trainer *trainer, const bp_device_options *options,
                                       bp_error *err);
/** The trainer's device. */
BP_API bp_device bp_trainer_device(const bp_trainer *trainer);
/** What the device last reported ("" if nothing): why the last bp_trainer_run on it
 *  failed, or, with bp_device_options.profile, the fused kernel's per-phase times. */
BP_API const char *bp_trainer_device_message(const bp_trainer *trainer);

/* -------------------------------------------------------------- checkpoints */

/** Save the trainer's network and everything needed to continue training exactly: the
 *  optimizer state, the shuffling generator, the epoch, the position within the epoch,
 *  the schedule and the early-stopping state. Written atomically. The file is also a
 *  valid model (.bpm) for eval and predict. `user` bytes (may be NULL) are stored with it
 *  and given back by bp_checkpoint_load (the program keeps its per-epoch history there). */
BP_API bp_status bp_checkpoint_save(const bp_trainer *trainer, const char *path, const void *user,
                                    size_t user_len, bp_error *err);
/** Load a checkpoint: a new network and a trainer attached to it, ready to continue where
 *  the saved one stopped (same data set, same thread count: then bitwise the same result as
 *  training without the interruption). *user receives a malloc'd copy of the user bytes (or
 *  NULL); free it. Free the trainer before the network. */
BP_API bp_status bp_checkpoint_load(const char *path, bp_net **net, bp_trainer **trainer, void **user,
                                    size_t *user_len, bp_error *err);

/* --------------------------------------------------------------- evaluation */

/** Loss and, for one-hot targets with more than one output, classification accuracy
 *  (argmax of a^L against argmax of y). For a single sigmoid output, a^L >= 0.5 is class 1. */
typedef struct {
    double loss;      /**< mean per-sample loss */
    double accuracy;  /**< fraction correct; negative when not a classification task */
    double mse;       /**< mean over samples of (1/n_L) ||a - y||^2 */
    size_t samples;
} bp_metrics;

BP_API bp_status bp_net_evaluate(bp_net *net, const bp_dataset *data, bp_metrics *metrics);

/* -------------------------------------------------------------- explanation */

/** How bp_net_explain writes. */
typedef enum {
    BP_EXPLAIN_TEXT = 0, /**< the equations as text, as `backprop explain` prints them */
    BP_EXPLAIN_JSON      /**< one JSON object: "network", "equations" (the text's lines) and,
                              with a sample, "sample": its loss, x, y and per layer W, b, z, a,
                              delta, dW, db (and W_next, b_next after a step) */
} bp_explain_format;

/** What bp_net_explain shows. Zero-initialize for the defaults. */
typedef struct {
    bp_explain_format format;
    size_t batch;            /**< batch size written into the mini-batch shapes (0: "m") */
    double learning_rate;    /**< with a sample: also W and b after one gradient-descent step
                                  W <- W - eta dC/dW at this eta (0: no step) */
    const char *sample_name; /**< how the text names the sample ("data row 3"; NULL: "this sample") */
} bp_explain_options;

/** The seeds' equations for this network, each with its matrix shapes and the function
 *  that computes it, one sample and a mini-batch; with a sample (x: n_0 inputs, y: n_L
 *  targets, or both NULL), every number of the engine's forward and backward pass on it
 *  (a batch of one, the mean): W, b, z, a per layer, the loss, each delta^l = dC/dz^l,
 *  dC/dW^l and dC/db^l. The command line, the Python package and the playground page all
 *  show this text. *text receives a NUL-terminated string to release with bp_free. With a
 *  sample, the network's gradient block and work space are overwritten (not its
 *  parameters). */
BP_API bp_status bp_net_explain(bp_net *net, const float *x, const float *y, const bp_explain_options *options,
                                char **text, bp_error *err);

/** Free memory the library allocated for the caller (bp_net_explain's text). NULL is ignored. */
BP_API void bp_free(void *p);

/* ------------------------------------------------------------------ exports */

/** A network quantized to 8-bit integers for inference (docs/DEPLOY.md): int8 weights with
 *  one scale per output unit, int8 activations with scales calibrated on data, int32 sums
 *  and fixed-point rescaling between layers. Opaque; independent of the bp_net it came from. */
typedef struct bp_qnet bp_qnet;

/** Quantize a network. calibration holds samples in the network's input space (the stored
 *  input transform already applied, as bp_net_forward takes them; targets are ignored): the
 *  range of every layer's activations over them sets that layer's scale. Fails with
 *  BP_ERR_UNSUPPORTED, err saying what and why, for a network integers cannot represent. */
BP_API bp_status bp_qnet_create(const bp_net *net, const bp_dataset *calibration, bp_qnet **out,
                                bp_error *err);
/** Integer forward pass over m samples: x (m x n_0) is quantized to int8, every layer runs in
 *  integers, and out (m x n_L) receives the int8 outputs a^L as floats. The same integers as
 *  the C that bp_net_export writes for this bp_qnet, on any CPU (AVX-512 VNNI, AVX2 or
 *  portable code, picked at run time). */
BP_API bp_status bp_qnet_forward(bp_qnet *q, const float *x, size_t m, float *out);
/** Free a quantized network; NULL is ignored. */
BP_API void bp_qnet_free(bp_qnet *q);

/** Formats bp_net_export writes. */
typedef enum {
    BP_EXPORT_C = 0, /**< one dependency-free C99 file: NAME_predict and the weights as constants */
    BP_EXPORT_ONNX   /**< an ONNX model (opset 13): input [batch, n_0] raw values, output a^L */
} bp_export_format;

/** What bp_net_export writes. Zero-initialize for float C. */
typedef struct {
    bp_export_format format;
    const char *name;      /**< C: prefix of every generated name (default "model") */
    const bp_qnet *int8;   /**< C: write this quantization of the network as integer-only code
                                instead of float code (NULL: float) */
    const char *source;    /**< where the model came from, quoted in the file's comment (may be NULL) */
} bp_export_options;

/** Write a network in another format, for programs that do not link backprop. Both formats
 *  take raw inputs (the stored input transform is part of them) and give a^L. *data receives
 *  the file's bytes (C text is also NUL-terminated), *size their count; release with bp_free.
 *  A network the format cannot represent fails with BP_ERR_UNSUPPORTED, and err says why. */
BP_API bp_status bp_net_export(const bp_net *net, const bp_export_options *options, void **data, size_t *size,
                               bp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* BACKPROP_H */
