/*
 * cmd_eval.c - using a trained model: `backprop eval` (loss, accuracy and the
 * confusion matrix, or MSE/RMSE/MAE) and `backprop predict` (one output row per
 * sample, as CSV).
 *
 * Both read raw data: the model's stored input transform and class names are
 * applied by cli_load_data_for_net. With --int8 both run the model quantized
 * on --calibrate DATA (bp_qnet_forward, the integers of `export-c --int8`):
 * eval then sets the int8 figures beside the float ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "io/fileio.h"

#include "args.h"
#include "commands.h"
#include "data.h"
#include "int8.h"
#include "json.h"
#include "threads.h"

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* The class of an output row: argmax, or a >= 0.5 for a single sigmoid output. */
static size_t predicted_class(const float *a, size_t n) { return n == 1 ? a[0] >= 0.5f : argmax(a, n); }

/* Forward pass over the n samples of a data set in chunks; out receives n x n_L outputs.
   n is the caller's count, the one it sized out with. The library multiplies fewer than
   MIN_ROWS rows in another order than more (src/kernels/gemm.c's SMALL_M: no packing for
   so few), which can change the last bits; so no chunk is that small (the last one takes
   the few rows left over, and a file of fewer rows goes through with zero rows added),
   and a sample's printed outputs do not depend on how many others the file holds. */
enum { CHUNK = 256, MIN_ROWS = 4 };
static bp_status predict_all(bp_net *net, const bp_dataset *d, size_t n, float *out)
{
    size_t n_in = bp_dataset_inputs(d), nL = bp_net_width(net, bp_net_layer_count(net));
    const float *x = bp_dataset_x_const(d);
    if (n > 0 && n < MIN_ROWS) {
        float *xs = calloc(MIN_ROWS * n_in, sizeof *xs), *os = malloc(MIN_ROWS * nL * sizeof *os);
        bp_status s = xs && os ? BP_OK : BP_ERR_NOMEM;
        if (s == BP_OK) {
            memcpy(xs, x, n * n_in * sizeof *xs);
            if ((s = bp_net_forward(net, xs, MIN_ROWS, os)) == BP_OK) memcpy(out, os, n * nL * sizeof *os);
        }
        free(xs);
        free(os);
        return s;
    }
    for (size_t start = 0; start < n;) {
        size_t m = n - start < CHUNK + MIN_ROWS ? n - start : CHUNK;
        bp_status s = bp_net_forward(net, x + start * n_in, m, out + start * nL);
        if (s != BP_OK) return s;
        start += m;
    }
    return BP_OK;
}

static void class_label(char *buf, size_t size, const bp_net *net, size_t k)
{
    const char *name = bp_net_class_name(net, k);
    if (name) snprintf(buf, size, "%s", name);
    else snprintf(buf, size, "%zu", k);
}

/* What eval and predict start with: the MODEL argument loaded, given its threads,
   and --data read for it. On failure the caller still frees *net and *data. */
static int load_model_and_data(cli_args *a, const char *data_path, int inputs_only, bp_net **net, bp_dataset **data)
{
    cli_format format;
    int threads, code = cli_parse_format(a, &format);
    if (code || (code = cli_threads(a, &threads))) return code;
    bp_error err = {0};
    bp_status s = bp_net_load(a->positional[0], net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, a->positional[0]);
    if ((code = cli_use_threads(a, *net, threads))) return code;
    return cli_load_data_for_net(a, data_path, cli_get(a, "labels"), *net, inputs_only, data);
}

/* The network's outputs for every sample of a data set. */
typedef struct {
    float *out; /* n rows of nL outputs; the caller frees it */
    size_t n, nL;
} predictions;

/* The float network's outputs, or with q the quantized network's. */
static int predict_outputs(cli_args *a, bp_net *net, bp_qnet *q, const bp_dataset *data, predictions *p)
{
    p->n = bp_dataset_count(data);
    p->nL = bp_net_width(net, bp_net_layer_count(net));
    if (!(p->out = calloc(p->n * p->nL, sizeof(float)))) return cli_fail(a, EXIT_FAILED, "out of memory");
    bp_status s = q ? bp_qnet_forward(q, bp_dataset_x_const(data), p->n, p->out) : predict_all(net, data, p->n, p->out);
    return s == BP_OK ? 0 : cli_fail_status(a, s, NULL, "predicting");
}

/* ------------------------------------------------------------------- eval */

static const cli_option eval_options[] = {
    {"data", "FILE", "data with targets: CSV, IDX images (with --labels) or FANN text (required)"},
    {"labels", "FILE", "IDX labels for --data"},
    {"format", "FMT", "data format: auto (default), csv, idx or fann"},
    {"targets", "KIND", "class or values: how to read CSV target columns (default: from the model)"},
    {"confusion", NULL, "print the confusion matrix (rows: true class, columns: predicted)"},
    {"int8", NULL, "also evaluate the model quantized to int8, as export-c --int8 runs it (needs --calibrate)"},
    {"calibrate", "DATA", CLI_CALIBRATE_HELP},
    {"threads", "N", CLI_THREADS_HELP},
    {"json", NULL, "machine-readable output"},
};

/* What eval reports beyond bp_metrics. */
typedef struct {
    size_t n, nL;
    double mae;        /* mean |a - y| over samples and outputs */
    double mse;        /* mean over samples of (1/n_L) ||a - y||^2 */
    double accuracy;   /* fraction of predicted classes that are right; negative for regression */
    double agreement;  /* int8 only: fraction of samples whose class the float model predicts too */
    size_t classes;    /* rows and columns of the confusion matrix (2 for one sigmoid output) */
    size_t *confusion; /* [true class][predicted class], or NULL */
} eval_report;

/* The mean absolute error and, when wanted, the confusion matrix. */
static int eval_measure(cli_args *a, const bp_dataset *data, const predictions *p, int classify, int want_confusion,
                        eval_report *r)
{
    const float *y = bp_dataset_y_const(data), *out = p->out;
    r->n = p->n;
    r->nL = p->nL;
    for (size_t i = 0; i < r->n * r->nL; i++) {
        double d = (double)out[i] - y[i];
        r->mae += fabs(d);
        r->mse += d * d;
    }
    r->mae /= (double)(r->n * r->nL);
    r->mse /= (double)(r->n * r->nL);
    size_t right = 0;
    for (size_t i = 0; classify && i < r->n; i++)
        right += predicted_class(y + i * r->nL, r->nL) == predicted_class(out + i * r->nL, r->nL);
    r->accuracy = classify ? (double)right / (double)r->n : -1.0;
    r->classes = r->nL == 1 ? 2 : r->nL;
    if (!want_confusion) return 0;
    if (!(r->confusion = calloc(r->classes * r->classes, sizeof(size_t))))
        return cli_fail(a, EXIT_FAILED, "out of memory");
    for (size_t i = 0; i < r->n; i++)
        r->confusion[predicted_class(y + i * r->nL, r->nL) * r->classes + predicted_class(out + i * r->nL, r->nL)]++;
    return 0;
}

/* The int8 figures, as a JSON object. */
static void print_int8_json(const eval_report *q)
{
    printf(",\"int8\":{\"accuracy\":");
    if (q->accuracy >= 0) json_double(stdout, q->accuracy); else printf("null");
    printf(",\"agreement\":");
    if (q->accuracy >= 0) json_double(stdout, q->agreement); else printf("null");
    printf(",\"mse\":");
    json_double(stdout, q->mse);
    printf(",\"rmse\":");
    json_double(stdout, sqrt(q->mse));
    printf(",\"mae\":");
    json_double(stdout, q->mae);
    printf("}");
}

static void print_eval_json(const bp_net *net, const bp_metrics *m, const eval_report *r, const eval_report *q)
{
    printf("{\"samples\":%zu,\"loss\":", r->n);
    json_double(stdout, m->loss);
    printf(",\"accuracy\":");
    if (m->accuracy >= 0) json_double(stdout, m->accuracy); else printf("null");
    printf(",\"mse\":");
    json_double(stdout, m->mse);
    printf(",\"rmse\":");
    json_double(stdout, sqrt(m->mse));
    printf(",\"mae\":");
    json_double(stdout, r->mae);
    if (r->confusion) {
        printf(",\"classes\":[");
        for (size_t k = 0; k < r->classes; k++) {
            char name[128];
            class_label(name, sizeof name, net, k);
            printf("%s", k ? "," : "");
            json_string(stdout, name);
        }
        printf("],\"confusion\":[");
        for (size_t i = 0; i < r->classes; i++) {
            printf("%s[", i ? "," : "");
            for (size_t c = 0; c < r->classes; c++) printf("%s%zu", c ? "," : "", r->confusion[i * r->classes + c]);
            printf("]");
        }
        printf("]");
    }
    if (q) print_int8_json(q);
    printf("}\n");
}

static void print_confusion(const bp_net *net, const eval_report *r)
{
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%12s", "");
    char name[128];
    for (size_t c = 0; c < r->classes; c++) {
        class_label(name, sizeof name, net, c);
        printf(" %8.8s", name);
    }
    printf("\n");
    for (size_t i = 0; i < r->classes; i++) {
        class_label(name, sizeof name, net, i);
        printf("%12.12s", name);
        for (size_t c = 0; c < r->classes; c++) printf(" %8zu", r->confusion[i * r->classes + c]);
        printf("\n");
    }
}

/* The int8 figures beside the float ones. */
static void print_int8_text(const bp_metrics *m, const eval_report *r, const eval_report *q)
{
    printf("\nint8 (quantized as export-c --int8 writes it; float beside it)\n");
    if (q->accuracy >= 0) {
        printf("accuracy  %.2f%% (%zu of %zu; float %.2f%%)\n", 100.0 * q->accuracy,
               (size_t)llround(q->accuracy * (double)q->n), q->n, 100.0 * m->accuracy);
        printf("agreement %.2f%% of samples get the float model's class\n", 100.0 * q->agreement);
    } else {
        printf("mse       %.6g (float %.6g)\nrmse      %.6g (float %.6g)\nmae       %.6g (float %.6g)\n", q->mse,
               m->mse, sqrt(q->mse), sqrt(m->mse), q->mae, r->mae);
    }
}

static void print_eval_text(const bp_net *net, const bp_metrics *m, const eval_report *r, int confusion)
{
    printf("samples   %zu\nloss      %.6f (%s)\n", r->n, m->loss, bp_loss_name(bp_net_loss_function(net)));
    if (m->accuracy >= 0) {
        printf("accuracy  %.2f%% (%zu of %zu)\n", 100.0 * m->accuracy, (size_t)llround(m->accuracy * (double)r->n),
               r->n);
    } else {
        printf("mse       %.6g   (mean over samples and outputs of (a - y)^2)\n", m->mse);
        printf("rmse      %.6g\nmae       %.6g\n", sqrt(m->mse), r->mae);
    }
    if (r->confusion && confusion) print_confusion(net, r);
}

/* The fraction of samples whose class two sets of outputs agree on. */
static double agreement(const predictions *p, const predictions *q)
{
    size_t same = 0;
    for (size_t i = 0; i < p->n; i++)
        same += predicted_class(p->out + i * p->nL, p->nL) == predicted_class(q->out + i * q->nL, q->nL);
    return p->n ? (double)same / (double)p->n : 0.0;
}

static int run_eval(cli_args *a)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *data_path = cli_get(a, "data");
    if (!data_path) return cli_fail(a, EXIT_USAGE, "--data FILE is required");
    const char *targets = cli_get(a, "targets");
    if (targets && strcmp(targets, "class") != 0 && strcmp(targets, "values") != 0)
        return cli_fail(a, EXIT_USAGE, "--targets expects 'class' or 'values', got '%s'", targets);
    int int8 = cli_flag(a, "int8");
    if (cli_get(a, "calibrate") && !int8)
        return cli_fail(a, EXIT_USAGE, "--calibrate sets the scales of --int8, which was not given");
    bp_net *net = NULL;
    bp_qnet *q = NULL;
    bp_dataset *data = NULL;
    predictions pred = {0}, qpred = {0};
    eval_report r = {0}, rq = {0};
    bp_metrics m = {0};
    int json = cli_flag(a, "json"), confusion = cli_flag(a, "confusion");
    int code = load_model_and_data(a, data_path, 0, &net, &data);
    if (!code && int8) code = cli_quantize(a, net, &q);
    if (!code) {
        bp_status s = bp_net_evaluate(net, data, &m);
        if (s != BP_OK) code = cli_fail_status(a, s, NULL, "evaluating");
    }
    int classify = m.accuracy >= 0;
    if (!code) code = predict_outputs(a, net, NULL, data, &pred);
    if (!code) code = eval_measure(a, data, &pred, classify, classify && !q && (confusion || json), &r);
    if (!code && q) code = predict_outputs(a, net, q, data, &qpred);
    if (!code && q) {
        code = eval_measure(a, data, &qpred, classify, classify && (confusion || json), &rq);
        rq.agreement = agreement(&pred, &qpred);
        /* The confusion matrix shown is the int8 model's. */
        r.confusion = rq.confusion;
        rq.confusion = NULL;
    }
    if (!code) {
        if (json) print_eval_json(net, &m, &r, q ? &rq : NULL);
        else {
            print_eval_text(net, &m, &r, confusion && !q);
            if (q) print_int8_text(&m, &r, &rq);
            if (q && confusion && r.confusion) print_confusion(net, &r);
        }
    }
    free(pred.out);
    free(qpred.out);
    free(r.confusion);
    bp_dataset_free(data);
    bp_qnet_free(q);
    bp_net_free(net);
    return code;
}

const cli_command cmd_eval = {
    "eval", "MODEL --data FILE [--confusion] [--int8 --calibrate DATA] [--json]",
    "loss, accuracy / RMSE of a model on data",
    "Evaluate a trained model on data in the layout it was trained on (raw values: the\n"
    "model applies its own preprocessing). Classification prints the loss, the accuracy\n"
    "and, with --confusion, the confusion matrix; regression prints MSE, RMSE and MAE.\n"
    "With --int8 the model is also quantized on --calibrate DATA and run in integers, as\n"
    "export-c --int8 would write it: its accuracy (or errors) beside the float model's,\n"
    "without generating any code; --confusion then shows the int8 model's matrix.",
    eval_options, sizeof eval_options / sizeof eval_options[0], 1, run_eval};

/* ---------------------------------------------------------------- predict */

static const cli_option predict_options[] = {
    {"data", "FILE", "inputs (any target columns are ignored): CSV, IDX images (no labels needed) or FANN (required)"},
    {"labels", "FILE", "IDX labels (ignored; accepted for symmetry with eval)"},
    {"format", "FMT", "data format: auto (default), csv, idx or fann"},
    {"classes", NULL, "print the predicted class (its name when the model has names) instead of the outputs"},
    {"int8", NULL, "run the model quantized to int8, as export-c --int8 writes it (needs --calibrate)"},
    {"calibrate", "DATA", CLI_CALIBRATE_HELP},
    {"threads", "N", CLI_THREADS_HELP},
    {"o", "FILE", "write the CSV here instead of standard output"},
};

/* The CSV: a header naming the columns (class names, or output numbers), then
   one row per sample: every output, or with classes the predicted class. Class
   names are quoted where CSV needs it ("a, b", say "hi"), whatever their length. */
static void format_predictions(bp_buffer *b, const bp_net *net, const predictions *p, int classes)
{
    size_t nL = p->nL;
    if (classes) {
        bp_buffer_printf(b, "class\n");
    } else {
        for (size_t k = 0; k < nL; k++) {
            if (k) bp_buffer_append(b, ",", 1);
            if (bp_net_class_name(net, k)) bp_buffer_csv_field(b, bp_net_class_name(net, k), 0);
            else bp_buffer_printf(b, "output%zu", k + 1);
        }
        bp_buffer_append(b, "\n", 1);
    }
    for (size_t i = 0; i < p->n; i++) {
        const float *row = p->out + i * nL;
        if (classes) {
            size_t k = predicted_class(row, nL);
            if (bp_net_class_name(net, k)) bp_buffer_csv_field(b, bp_net_class_name(net, k), 0);
            else bp_buffer_printf(b, "%zu", k);
            bp_buffer_append(b, "\n", 1);
        } else {
            for (size_t k = 0; k < nL; k++) {
                if (k) bp_buffer_append(b, ",", 1);
                bp_buffer_float(b, row[k]);
            }
            bp_buffer_append(b, "\n", 1);
        }
    }
}

static int run_predict(cli_args *a)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *data_path = cli_get(a, "data"), *out_path = cli_get(a, "o");
    if (!data_path) return cli_fail(a, EXIT_USAGE, "--data FILE is required");
    if (cli_get(a, "calibrate") && !cli_flag(a, "int8"))
        return cli_fail(a, EXIT_USAGE, "--calibrate sets the scales of --int8, which was not given");
    const char *inputs[] = {"MODEL", a->positional[0], "--data", data_path, "--labels", cli_get(a, "labels"),
                            "--calibrate", cli_get(a, "calibrate")};
    int code = cli_check_output(a, "-o", out_path, inputs, sizeof inputs / sizeof inputs[0] / 2);
    if (code) return code;
    bp_net *net = NULL;
    bp_qnet *q = NULL;
    bp_dataset *data = NULL;
    predictions pred = {0};
    bp_buffer b = {0};
    code = load_model_and_data(a, data_path, 1, &net, &data);
    if (!code && cli_flag(a, "int8")) code = cli_quantize(a, net, &q);
    if (!code) code = predict_outputs(a, net, q, data, &pred);
    if (!code) {
        format_predictions(&b, net, &pred, cli_flag(a, "classes"));
        bp_error err = {0};
        bp_status s;
        if (b.failed) code = cli_fail(a, EXIT_FAILED, "out of memory");
        else if (!out_path) fwrite(b.data, 1, b.len, stdout);
        else if ((s = bp_write_file_atomic(out_path, b.data, b.len, &err)) != BP_OK)
            code = cli_fail_status(a, s, &err, out_path);
    }
    bp_buffer_free(&b);
    free(pred.out);
    bp_dataset_free(data);
    bp_qnet_free(q);
    bp_net_free(net);
    return code;
}

const cli_command cmd_predict = {
    "predict", "MODEL --data FILE [--classes] [--int8 --calibrate DATA] [-o FILE]", "one output row per sample, as CSV",
    "Run a trained model on data and print one CSV row per sample: the outputs (class\n"
    "probabilities for a softmax model), or with --classes the predicted class. The\n"
    "first line names the columns. The model applies its own preprocessing. With --int8\n"
    "the model runs quantized on --calibrate DATA, in integers (AVX-512 VNNI or AVX2 when\n"
    "the CPU has them): the outputs are the int8 a^L of export-c --int8, as numbers.",
    predict_options, sizeof predict_options / sizeof predict_options[0], 1, run_predict};
