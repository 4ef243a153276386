// Softmax + cross-entropy, mean over the batch, with the fused backward:
//   loss = mean_b( logsumexp(z_b) - z_b[label_b] ),   grad_z = (softmax(z) - onehot(label)) / mean_over,
// where mean_over is the batch's size, or the whole step's for one of its micro-batches.
// It also counts correct predictions (argmax, first of ties) so accuracy needs no logits readback.
// stats[0] += loss summed over the batch, stats[1] += correct, stats[2] += examples; the engine
// reads stats once per reporting interval. One workgroup; rows are shared among its invocations and
// the sums reduced in workgroup memory: deterministic, no float atomics.
struct Params {
    batch: u32, classes: u32, mean_over: u32, _pad0: u32,
}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

var<workgroup> loss_part: array<f32, 256>;
var<workgroup> correct_part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lidx: u32) {
    p = params;
    var loss = 0.0;
    var correct = 0.0;
    let scale = 1.0 / f32(p.mean_over);
    for (var row = lidx; row < p.batch; row += 256u) {
        let base = row * p.classes;
        var top = logits[base];
        var top_at = 0u;
        for (var c = 1u; c < p.classes; c++) {
            if (logits[base + c] > top) {
                top = logits[base + c];
                top_at = c;
            }
        }
        var total = 0.0;
        for (var c = 0u; c < p.classes; c++) {
            total += exp(logits[base + c] - top);
        }
        let label = labels[row];
        loss += log(total) + top - logits[base + label];
        correct += select(0.0, 1.0, top_at == label);
        for (var c = 0u; c < p.classes; c++) {
            let prob = exp(logits[base + c] - top) / total;
            grad[base + c] = (prob - select(0.0, 1.0, c == label)) * scale;
        }
    }
    loss_part[lidx] = loss;
    correct_part[lidx] = correct;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lidx < stride) {
            loss_part[lidx] += loss_part[lidx + stride];
            correct_part[lidx] += correct_part[lidx + stride];
        }
        workgroupBarrier();
    }
    if (lidx == 0u) {
        stats[0] += loss_part[0];
        stats[1] += correct_part[0];
        stats[2] += f32(p.batch);
    }
}
