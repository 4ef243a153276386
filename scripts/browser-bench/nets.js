// The four nets as d2l builds them (chapter 5), in TensorFlow.js layers (NHWC), with cnnscope's
// width ratio (every width c becomes max(1, floor(c / ratio)) except the 10 classes), and a
// training benchmark: `bench(net, backend, ratio, side, batch, steps)` → images/s and the first
// step's seconds. Random images and labels: a step's cost does not depend on them.
"use strict";

const layers = () => tf.layers;
const conv = (filters, kernelSize, strides = 1, padding = "valid") =>
  layers().conv2d({ filters, kernelSize, strides, padding, activation: "relu" });
const maxPool = (poolSize, strides, padding = "valid") => layers().maxPooling2d({ poolSize, strides, padding });
// AlexNet's and VGG's dense part: flattened, two hidden layers with dropout, the classes.
const classifier = (w) => [layers().flatten(), layers().dense({ units: w(4096), activation: "relu" }), layers().dropout({ rate: 0.5 }),
  layers().dense({ units: w(4096), activation: "relu" }), layers().dropout({ rate: 0.5 }), layers().dense({ units: 10, activation: "softmax" })];

function alexnet(w, side) {
  const m = tf.sequential();
  m.add(layers().conv2d({ inputShape: [side, side, 1], filters: w(96), kernelSize: 11, strides: 4, activation: "relu" }));
  [maxPool(3, 2), conv(w(256), 5, 1, "same"), maxPool(3, 2), conv(w(384), 3, 1, "same"), conv(w(384), 3, 1, "same"),
    conv(w(256), 3, 1, "same"), maxPool(3, 2), ...classifier(w)].forEach((l) => m.add(l));
  return m;
}

function vgg11(w, side) {
  const m = tf.sequential();
  m.add(layers().inputLayer({ inputShape: [side, side, 1] }));
  for (const [convs, width] of [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]]) {
    for (let i = 0; i < convs; i++) m.add(conv(w(width), 3, 1, "same"));
    m.add(maxPool(2, 2));
  }
  classifier(w).forEach((l) => m.add(l));
  return m;
}

function nin(w, side) {
  const m = tf.sequential();
  m.add(layers().inputLayer({ inputShape: [side, side, 1] }));
  const block = (width, k, s, padding) => [conv(width, k, s, padding), conv(width, 1), conv(width, 1)].forEach((l) => m.add(l));
  block(w(96), 11, 4, "valid"); m.add(maxPool(3, 2));
  block(w(256), 5, 1, "same"); m.add(maxPool(3, 2));
  block(w(384), 3, 1, "same"); m.add(maxPool(3, 2));
  m.add(layers().dropout({ rate: 0.5 }));
  block(10, 3, 1, "same");
  m.add(layers().globalAveragePooling2d({}));
  m.add(layers().activation({ activation: "softmax" }));
  return m;
}

function googlenet(w, side) {
  const input = tf.input({ shape: [side, side, 1] });
  const inception = (x, c1, c2, c3, c4) => {
    const p1 = conv(w(c1), 1).apply(x);
    const p2 = conv(w(c2[1]), 3, 1, "same").apply(conv(w(c2[0]), 1).apply(x));
    const p3 = conv(w(c3[1]), 5, 1, "same").apply(conv(w(c3[0]), 1).apply(x));
    const p4 = conv(w(c4), 1).apply(maxPool(3, 1, "same").apply(x));
    return layers().concatenate({ axis: -1 }).apply([p1, p2, p3, p4]);
  };
  let x = maxPool(3, 2, "same").apply(conv(w(64), 7, 2, "same").apply(input));
  x = maxPool(3, 2, "same").apply(conv(w(192), 3, 1, "same").apply(conv(w(64), 1).apply(x)));
  x = inception(x, 64, [96, 128], [16, 32], 32);
  x = maxPool(3, 2, "same").apply(inception(x, 128, [128, 192], [32, 96], 64));
  for (const spec of [[192, [96, 208], [16, 48], 64], [160, [112, 224], [24, 64], 64], [128, [128, 256], [24, 64], 64],
    [112, [144, 288], [32, 64], 64]]) x = inception(x, ...spec);
  x = maxPool(3, 2, "same").apply(inception(x, 256, [160, 320], [32, 128], 128));
  x = inception(inception(x, 256, [160, 320], [32, 128], 128), 384, [192, 384], [48, 128], 128);
  x = layers().globalAveragePooling2d({}).apply(x);
  return tf.model({ inputs: input, outputs: layers().dense({ units: 10, activation: "softmax" }).apply(x) });
}

const NETS = { alexnet, vgg11, nin, googlenet };

// tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, so it cannot train a convnet as shipped:
// a plain JavaScript one (the weight gradient of a convolution, NHWC) makes it able to.
function registerWasmConvFilterGradient() {
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs;
      const { strides, pad, dimRoundingMode, filterShape } = attrs;
      const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, "channelsLast");
      const xv = backend.typedArrayFromHeap(x), dyv = backend.typedArrayFromHeap(dy);
      const out = backend.makeOutput(filterShape, "float32");
      const dw = backend.typedArrayFromHeap(out);
      dw.fill(0);
      const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
      const top = info.padInfo.top, left = info.padInfo.left;
      for (let b = 0; b < batchSize; b++) {
        for (let oy = 0; oy < outHeight; oy++) {
          for (let ox = 0; ox < outWidth; ox++) {
            const g = ((b * outHeight + oy) * outWidth + ox) * outChannels;
            for (let fy = 0; fy < filterHeight; fy++) {
              const iy = oy * strideHeight - top + fy;
              if (iy < 0 || iy >= inHeight) continue;
              for (let fx = 0; fx < filterWidth; fx++) {
                const ix = ox * strideWidth - left + fx;
                if (ix < 0 || ix >= inWidth) continue;
                const xi = ((b * inHeight + iy) * inWidth + ix) * inChannels;
                const wi = (fy * filterWidth + fx) * inChannels * outChannels;
                for (let ci = 0; ci < inChannels; ci++) {
                  const xval = xv[xi + ci];
                  if (xval === 0) continue;
                  const row = wi + ci * outChannels;
                  for (let co = 0; co < outChannels; co++) dw[row + co] += xval * dyv[g + co];
                }
              }
            }
          }
        }
      }
      return out;
    },
  });
}

window.bench = async (net, backend, ratio, side, batch, steps) => {
  if (backend === "wasm") {
    tf.wasm.setWasmPaths(new URL(".", location.href).href);
    registerWasmConvFilterGradient();
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available here`);
  await tf.ready();
  const w = (c) => Math.max(1, Math.floor(c / ratio));
  const model = NETS[net](w, side);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  const x = tf.randomUniform([batch, side, side, 1]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32"), 10);
  let start = performance.now();
  await model.trainOnBatch(x, y);
  const first = (performance.now() - start) / 1000;
  start = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const secs = (performance.now() - start) / 1000;
  return { imagesPerSec: (steps * batch) / secs, firstStepSecs: first, backend: tf.getBackend(), params: model.countParams() };
};
