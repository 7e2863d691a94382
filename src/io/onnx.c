/*
 * onnx.c - a network as an ONNX model (opset 13), for ONNX Runtime, OpenCV's
 * dnn module and every other serving stack that reads ONNX.
 *
 * The graph is the forward pass of passes.c written as ONNX operators:
 *
 *     input [batch, n_0]  --Sub(shift)--Mul(scale)-->  (the stored input transform, if any)
 *     z^l = Gemm(a^(l-1), W^l, b^l, transB = 1)        (a^(l-1) W^T + b, W stored n_l x n_(l-1))
 *     a^l = Relu | Sigmoid | Tanh | LeakyRelu(0.01) | Softmax(axis 1) of z^l
 *     output [batch, n_L]
 *
 * so it takes the same raw inputs as `backprop predict` and gives the same
 * outputs. The batch dimension is symbolic ("batch"); the class names travel
 * in the model's metadata ("class_names", a JSON array). Protobuf strings must
 * be UTF-8, so bytes of names and paths that are not become U+FFFD.
 *
 * The protobuf encoding is written here by hand: ONNX files are protobuf
 * messages, and writing one needs only varints, little-endian fixed32 and
 * length-prefixed fields, for the eight message types below. A protobuf
 * library (protobuf-c) would need C code generated from onnx.proto at build
 * time and a run-time dependency of the library, for a write-only use that
 * fits in a page; docs/DEPLOY.md says more. Field numbers are those of
 * onnx.proto (ONNX 1.12, IR version 7 for opset 13); every test reads the
 * output back with the real consumers (tests/onnx-test.sh).
 *
 * Left to others: reading ONNX (the model file is .bpm), external-data files
 * for models over protobuf's 2 GiB limit (refused with a message), and any
 * operator set other than the default domain's.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backprop.h"
#include "core/status.h"
#include "io/binary.h"
#include "io/onnx.h"

/* Wire types of the protobuf encoding. */
enum { PB_VARINT = 0, PB_FIXED32 = 5, PB_LEN = 2 };

/* ONNX enum values (onnx.proto): TensorProto.DataType FLOAT, AttributeProto.AttributeType. */
enum { ONNX_FLOAT = 1, ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2 };

/* IR version 7 is the one that goes with opset 13 (ONNX 1.8); every consumer since reads it. */
enum { ONNX_IR_VERSION = 7, ONNX_OPSET = 13 };

/* A protobuf message is at most 2 GiB; leave room for everything beside the weights. */
#define ONNX_MAX_BYTES ((size_t)2147483647 - ((size_t)1 << 20))

static void pb_varint(bp_buffer *b, uint64_t v)
{
    unsigned char bytes[10];
    size_t n = 0;
    do {
        bytes[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    bp_buffer_append(b, bytes, n);
}

static void pb_key(bp_buffer *b, unsigned field, unsigned wire) { pb_varint(b, (uint64_t)field << 3 | wire); }

/* int64 and int32 fields: negative numbers as their 64-bit two's complement (10 bytes). */
static void pb_int(bp_buffer *b, unsigned field, int64_t v)
{
    pb_key(b, field, PB_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void pb_float(bp_buffer *b, unsigned field, float v)
{
    unsigned char bytes[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++) bytes[i] = (unsigned char)(u >> (8 * i));
    pb_key(b, field, PB_FIXED32);
    bp_buffer_append(b, bytes, 4);
}

static void pb_bytes(bp_buffer *b, unsigned field, const void *data, size_t len)
{
    pb_key(b, field, PB_LEN);
    pb_varint(b, len);
    bp_buffer_append(b, data, len);
}

static void pb_string(bp_buffer *b, unsigned field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* An embedded message, built in its own buffer: appended with its length, then freed. */
static void pb_message(bp_buffer *b, unsigned field, bp_buffer *sub)
{
    if (sub->failed) b->failed = 1;
    else pb_bytes(b, field, sub->data, sub->len);
    bp_buffer_free(sub);
}

/* ------------------------------------------------------------ ONNX messages */

/* TensorProto: a float initializer of one or two dimensions, little-endian raw data. */
static void tensor(bp_buffer *graph, const char *name, size_t rows, size_t cols, const float *v)
{
    bp_buffer t = {0}, raw = {0};
    if (rows) pb_int(&t, 1, (int64_t)rows); /* dims */
    pb_int(&t, 1, (int64_t)cols);
    pb_int(&t, 2, ONNX_FLOAT);              /* data_type */
    pb_string(&t, 8, name);                 /* name */
    bp_write_f32s(&raw, v, (rows ? rows : 1) * cols);
    if (raw.failed) t.failed = 1;
    else pb_bytes(&t, 9, raw.data, raw.len); /* raw_data */
    bp_buffer_free(&raw);
    pb_message(graph, 5, &t);               /* GraphProto.initializer */
}

/* ValueInfoProto: a float tensor [batch, n] named `name`, as graph input or output. */
static void value_info(bp_buffer *graph, unsigned field, const char *name, size_t n)
{
    bp_buffer info = {0}, type = {0}, tensor_type = {0}, shape = {0}, dim = {0};
    pb_string(&dim, 2, "batch");             /* Dimension.dim_param */
    pb_message(&shape, 1, &dim);             /* TensorShapeProto.dim */
    pb_int(&dim, 1, (int64_t)n);             /* Dimension.dim_value */
    pb_message(&shape, 1, &dim);
    pb_int(&tensor_type, 1, ONNX_FLOAT);     /* Tensor.elem_type */
    pb_message(&tensor_type, 2, &shape);     /* Tensor.shape */
    pb_message(&type, 1, &tensor_type);      /* TypeProto.tensor_type */
    pb_string(&info, 1, name);               /* ValueInfoProto.name */
    pb_message(&info, 2, &type);             /* ValueInfoProto.type */
    pb_message(graph, field, &info);
}

/* One attribute of a node: an int (as_float 0) or a float. */
typedef struct {
    const char *name;
    int as_float;
    double value;
} attribute;

/* NodeProto: op_type(inputs) -> output, with at most one attribute. */
static void node(bp_buffer *graph, const char *op, const char *const *inputs, size_t n_inputs, const char *output,
                 const attribute *attr)
{
    bp_buffer n = {0};
    for (size_t i = 0; i < n_inputs; i++) pb_string(&n, 1, inputs[i]); /* input */
    pb_string(&n, 2, output);                                         /* output */
    pb_string(&n, 3, output);                                         /* name: as the value it makes */
    pb_string(&n, 4, op);                                             /* op_type */
    if (attr) {
        bp_buffer a = {0};
        pb_string(&a, 1, attr->name);
        if (attr->as_float) {
            pb_float(&a, 2, (float)attr->value);
            pb_int(&a, 20, ONNX_ATTR_FLOAT);
        } else {
            pb_int(&a, 3, (int64_t)attr->value);
            pb_int(&a, 20, ONNX_ATTR_INT);
        }
        pb_message(&n, 5, &a); /* attribute */
    }
    pb_message(graph, 1, &n); /* GraphProto.node */
}

/* ----------------------------------------------------------------- the model */

/* The activation's ONNX operator, NULL for the identity. */
static const char *activation_op(bp_activation g, attribute *attr, int *has_attr)
{
    *has_attr = 0;
    switch (g) {
    case BP_ACT_IDENTITY: return NULL;
    case BP_ACT_SIGMOID: return "Sigmoid";
    case BP_ACT_TANH: return "Tanh";
    case BP_ACT_RELU: return "Relu";
    case BP_ACT_LEAKY_RELU:
        *attr = (attribute){"alpha", 1, 0.01};
        *has_attr = 1;
        return "LeakyRelu";
    case BP_ACT_SOFTMAX:
        *attr = (attribute){"axis", 0, 1};
        *has_attr = 1;
        return "Softmax";
    }
    return NULL;
}

/* The graph: inputs, the transform, every layer, the output; weights as initializers. */
static void graph(bp_buffer *model, const bp_net *net)
{
    bp_buffer g = {0};
    size_t L = bp_net_layer_count(net), n0 = bp_net_width(net, 0);
    const float *params = bp_net_params_const(net), *shift, *scale;
    char prev[32] = "input", name[32], W[32], b[32];

    pb_string(&g, 2, "backprop");
    if (bp_net_get_input_transform(net, &shift, &scale)) {
        /* x' = (x - shift) * scale, exactly the two roundings bp_net_apply_input_transform makes. */
        tensor(&g, "input_shift", 0, n0, shift);
        tensor(&g, "input_scale", 0, n0, scale);
        node(&g, "Sub", (const char *[]){"input", "input_shift"}, 2, "input_centered", NULL);
        node(&g, "Mul", (const char *[]){"input_centered", "input_scale"}, 2, "preprocessed", NULL);
        snprintf(prev, sizeof prev, "preprocessed");
    }
    for (size_t l = 1; l <= L; l++) {
        size_t n = bp_net_width(net, l), p = bp_net_width(net, l - 1);
        bp_activation act = l == L ? bp_net_output_activation(net) : bp_net_hidden_activation(net);
        attribute attr;
        int has_attr;
        const char *op = activation_op(act, &attr, &has_attr);
        snprintf(W, sizeof W, "W%zu", l);
        snprintf(b, sizeof b, "b%zu", l);
        tensor(&g, W, n, p, params);
        params += n * p;
        if (bp_net_has_bias(net)) {
            tensor(&g, b, 0, n, params);
            params += n;
        }
        /* z^l = a^(l-1) W^T + b: Gemm with transB, so W stays n_l x n_(l-1) as stored. */
        if (l == L && !op) snprintf(name, sizeof name, "output");
        else snprintf(name, sizeof name, "z%zu", l);
        node(&g, "Gemm", (const char *[]){prev, W, b}, bp_net_has_bias(net) ? 3 : 2, name,
             &(attribute){"transB", 0, 1});
        if (op) {
            char a[32];
            if (l == L) snprintf(a, sizeof a, "output");
            else snprintf(a, sizeof a, "a%zu", l);
            node(&g, op, (const char *[]){name}, 1, a, has_attr ? &attr : NULL);
            snprintf(prev, sizeof prev, "%s", a);
        } else {
            snprintf(prev, sizeof prev, "%s", name);
        }
    }
    value_info(&g, 11, "input", n0);
    value_info(&g, 12, "output", bp_net_width(net, L));
    pb_message(model, 7, &g); /* ModelProto.graph */
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or minus the length of
   its longest start that could still have become one (at least 1 byte): the "maximal
   subpart" of Unicode's chapter 3, which a decoder replaces by one U+FFFD. Overlong
   forms, surrogates and code points beyond U+10FFFF are ill-formed. */
static int utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0], low = 0x80, high = 0xBF;
    int need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
    else return -1;
    for (int k = 1; k <= need; k++) {
        if (s[k] < low || s[k] > high) return -k; /* a NUL ends the text here too */
        low = 0x80, high = 0xBF;
    }
    return need + 1;
}

/* s as UTF-8, which protobuf requires of string fields: each ill-formed subsequence (a
   Latin-1 byte in a class name or in the model's path) becomes U+FFFD, as a browser or
   Python's errors="replace" decodes it. With json, also backslashes and quotes escaped
   and control characters written as \u00XX. */
static void append_utf8(bp_buffer *b, const char *s, int json)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_sequence(p);
        if (n < 0) bp_buffer_append(b, "\xEF\xBF\xBD", 3), p += -n;
        else if (json && (*p == '"' || *p == '\\')) bp_buffer_printf(b, "\\%c", *p), p++;
        else if (json && *p < 0x20) bp_buffer_printf(b, "\\u%04x", *p), p++;
        else bp_buffer_append(b, (const char *)p, (size_t)n), p += n;
    }
}

/* A JSON string literal of s (for the class names in the metadata). */
static void json_string(bp_buffer *b, const char *s)
{
    bp_buffer_append(b, "\"", 1);
    append_utf8(b, s, 1);
    bp_buffer_append(b, "\"", 1);
}

static void metadata(bp_buffer *model, const char *key, const bp_buffer *value)
{
    bp_buffer entry = {0};
    pb_string(&entry, 1, key);
    if (value->failed) entry.failed = 1;
    else pb_bytes(&entry, 2, value->data, value->len);
    pb_message(model, 14, &entry); /* ModelProto.metadata_props */
}

bp_status bp_onnx_write(const bp_net *net, const char *source, bp_buffer *out, bp_error *err)
{
    size_t L = bp_net_layer_count(net), params = bp_net_param_count(net);
    if (params > (ONNX_MAX_BYTES - 4096 * (L + 1)) / sizeof(float))
        return bp_fail(err, BP_ERR_UNSUPPORTED,
                       "the network has %zu parameters (%zu bytes): an ONNX file is one protobuf message, "
                       "limited to 2 GiB, and backprop does not write ONNX external-data files",
                       params, params * sizeof(float));
    bp_buffer doc = {0}, names = {0}, opset = {0};
    pb_int(out, 1, ONNX_IR_VERSION);    /* ir_version */
    pb_string(out, 2, "backprop");      /* producer_name */
    pb_int(&opset, 2, ONNX_OPSET);      /* OperatorSetIdProto.version; domain "" is ai.onnx */
    pb_message(out, 8, &opset);         /* opset_import */
    for (size_t l = 0; l <= L; l++) bp_buffer_printf(&doc, "%s%zu", l ? "-" : "", bp_net_width(net, l));
    bp_buffer_printf(&doc, " network (%s hidden, %s output, trained with %s loss)",
                     bp_activation_name(bp_net_hidden_activation(net)),
                     bp_activation_name(bp_net_output_activation(net)), bp_loss_name(bp_net_loss_function(net)));
    if (source) {
        bp_buffer_append(&doc, " from ", 6);
        append_utf8(&doc, source, 0);
    }
    bp_buffer_printf(&doc, "; input: raw values [batch, %zu], the stored preprocessing included; "
                           "output: a^L [batch, %zu]", bp_net_width(net, 0), bp_net_width(net, L));
    if (doc.failed) out->failed = 1;
    else pb_bytes(out, 6, doc.data, doc.len); /* doc_string */
    bp_buffer_free(&doc);
    graph(out, net);
    if (bp_net_class_name(net, 0)) {
        bp_buffer_append(&names, "[", 1);
        for (size_t k = 0; k < bp_net_width(net, L); k++) {
            if (k) bp_buffer_append(&names, ",", 1);
            json_string(&names, bp_net_class_name(net, k));
        }
        bp_buffer_append(&names, "]", 1);
        metadata(out, "class_names", &names);
        bp_buffer_free(&names);
    }
    if (out->failed) return bp_fail(err, BP_ERR_NOMEM, "out of memory writing the ONNX model");
    return BP_OK;
}
