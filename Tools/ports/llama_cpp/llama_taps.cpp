// llama_taps: run llama.cpp's CPU backend on one golden case and dump every graph node it computes.
//
//     llama_taps MODEL.gguf TOKENS.txt OUTDIR
//
// TOKENS.txt (written by `map_taps.py tokens`): a first line "B S", then B·S lines
// "token position mask" in batch-major order. Each batch row is one llama sequence (seq id = row); tokens with
// mask 0 (the left padding) are not decoded. All real tokens go through one llama_decode, every one an output,
// with a float32 KV cache and no flash attention, so every node below is float32 arithmetic on the CPU.
//
// OUTDIR gets one raw little-endian file per computed node, NNNN.bin (contiguous, ne[0] fastest), and
// index.tsv: "file  name  op  type  ne0  ne1  ne2  ne3  src0" per node (src0: the name of its first operand, "-" for
// none; it identifies unnamed nodes such as o_proj's product, whose src0 is blk.L.attn_output.weight), in the order
// the scheduler computed them, then
// tokens.tsv: "batch_row  seq_pos" per decoded token, in the order of the graph's token axis.
// Exit 1 with one line on stderr on any error.

#include "ggml.h"
#include "ggml-backend.h"
#include "llama.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Dump {
    std::string dir;
    std::FILE * index = nullptr;
    int count = 0;
    bool failed = false;
};

// Copies a node of any strides into a contiguous buffer: [ne3][ne2][ne1][ne0] elements of `size` bytes.
std::vector<char> contiguous(const ggml_tensor * t) {
    const size_t size = ggml_type_size(t->type);
    std::vector<char> raw(ggml_nbytes(t));
    ggml_backend_tensor_get(t, raw.data(), 0, raw.size());
    std::vector<char> out(size * ggml_nelements(t));
    char * dst = out.data();
    for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t->ne[0]; ++i0, dst += size)
                    std::memcpy(dst, raw.data() + i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3], size);
    return out;
}

// The scheduler asks once per node whether we want it (yes: every float32 or int32 node), then hands it over
// computed. Views are included: their data is their source's, already computed.
bool observe(ggml_tensor * t, bool ask, void * user) {
    auto * dump = static_cast<Dump *>(user);
    const bool wanted = (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_I32) && t->name[0] != '\0';
    if (ask) return wanted;
    if (!wanted || dump->failed) return true;
    char file[32];
    std::snprintf(file, sizeof file, "%04d.bin", dump->count++);
    std::vector<char> data = contiguous(t);
    std::FILE * f = std::fopen((dump->dir + "/" + file).c_str(), "wb");
    if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size()) {
        std::fprintf(stderr, "llama_taps: cannot write %s/%s\n", dump->dir.c_str(), file);
        dump->failed = true;
    }
    if (f) std::fclose(f);
    const char * src0 = t->src[0] && t->src[0]->name[0] != '\0' ? t->src[0]->name : "-";
    std::fprintf(dump->index, "%s\t%s\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%s\n", file, t->name, ggml_op_desc(t),
                 ggml_type_name(t->type), (long long) t->ne[0], (long long) t->ne[1], (long long) t->ne[2],
                 (long long) t->ne[3], src0);
    return !dump->failed;
}

struct Token { int row; int col; llama_token id; llama_pos pos; };

// Reads TOKENS.txt; returns false with a message on a malformed file.
bool read_tokens(const char * path, int & batch, int & seq, std::vector<Token> & real) {
    std::ifstream in(path);
    if (!(in >> batch >> seq) || batch < 1 || seq < 1) {
        std::fprintf(stderr, "llama_taps: %s: first line must be \"B S\"\n", path);
        return false;
    }
    for (int r = 0; r < batch; ++r) {
        for (int c = 0; c < seq; ++c) {
            long long id, pos, mask;
            if (!(in >> id >> pos >> mask) || (mask != 0 && mask != 1)) {
                std::fprintf(stderr, "llama_taps: %s: token line %d must be \"id position mask(0|1)\"\n", path,
                             r * seq + c + 2);
                return false;
            }
            if (mask == 1) real.push_back({r, c, (llama_token) id, (llama_pos) pos});
        }
    }
    if (real.empty()) {
        std::fprintf(stderr, "llama_taps: %s: no token has mask 1\n", path);
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char ** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: llama_taps MODEL.gguf TOKENS.txt OUTDIR\n");
        return 1;
    }
    int batch = 0, seq = 0;
    std::vector<Token> real;
    if (!read_tokens(argv[2], batch, seq, real)) return 1;

    Dump dump;
    dump.dir = argv[3];
    dump.index = std::fopen((dump.dir + "/index.tsv").c_str(), "w");
    if (!dump.index) {
        std::fprintf(stderr, "llama_taps: cannot write %s/index.tsv\n", argv[3]);
        return 1;
    }

    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        std::fprintf(stderr, "llama_taps: cannot load %s\n", argv[1]);
        return 1;
    }

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 256 * ((real.size() + 255) / 256);
    cp.n_batch = cp.n_ubatch = cp.n_ctx;       // one ubatch: one graph holds every token
    cp.n_seq_max = batch;
    cp.kv_unified = true;                      // keeps the batch's token order in the ubatch
    cp.n_threads = cp.n_threads_batch = 1;     // one thread: a fixed summation order, deterministic dumps
    cp.type_k = cp.type_v = GGML_TYPE_F32;     // the default F16 cache would round K and V
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.cb_eval = observe;
    cp.cb_eval_user_data = &dump;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        std::fprintf(stderr, "llama_taps: cannot create a context for %s\n", argv[1]);
        return 1;
    }

    llama_batch b = llama_batch_init((int32_t) real.size(), 0, 1);
    for (const Token & t : real) {
        const int i = b.n_tokens++;
        b.token[i] = t.id;
        b.pos[i] = t.pos;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = t.row;
        b.logits[i] = 1;
    }
    const int32_t rc = llama_decode(ctx, b);
    std::fclose(dump.index);
    if (rc != 0 || dump.failed) {
        std::fprintf(stderr, "llama_taps: llama_decode returned %d\n", rc);
        return 1;
    }

    std::FILE * order = std::fopen((dump.dir + "/tokens.tsv").c_str(), "w");
    if (!order) {
        std::fprintf(stderr, "llama_taps: cannot write %s/tokens.tsv\n", argv[3]);
        return 1;
    }
    for (const Token & t : real) std::fprintf(order, "%d\t%d\n", t.row, t.col);
    std::fclose(order);

    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
