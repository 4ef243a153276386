//! Whole networks on the GPU: PyTorch's weights give PyTorch's logits, weights files round-trip and
//! refuse what does not fit, every network's backward pass gives PyTorch's gradients, and a
//! training step's dropout is the same forward and backward.

use cnnscope::model::{Graph, Init, Model, Parameters, weights};
use cnnscope::net::{Arch, Layer, Net, NetConfig};
use cnnscope::{DType, Device, Recorder, Tensor, ops};

use crate::common::{RTOL, assert_close, check_directional_derivative, random};

const PYTORCH: [(Arch, &[u8], &[u8]); 4] = [
    (Arch::AlexNet, include_bytes!("../fixtures/weights_alexnet.safetensors"), include_bytes!("../fixtures/weights_alexnet_io.safetensors")),
    (Arch::Vgg11, include_bytes!("../fixtures/weights_vgg11.safetensors"), include_bytes!("../fixtures/weights_vgg11_io.safetensors")),
    (Arch::Nin, include_bytes!("../fixtures/weights_nin.safetensors"), include_bytes!("../fixtures/weights_nin_io.safetensors")),
    (Arch::GoogLeNet, include_bytes!("../fixtures/weights_googlenet.safetensors"), include_bytes!("../fixtures/weights_googlenet_io.safetensors")),
];

/// The network a fixture was made for (its ratio and side are stored in it).
fn fixture_net(arch: &Arch, io: &crate::common::Fixture) -> Net {
    let config = io.get("config");
    Net::new(NetConfig::new(arch.clone(), config[0] as usize).with_side(config[1] as usize)).unwrap()
}

/// Logits of `model` for `input` in evaluation mode.
async fn logits(device: &Device, model: &Model, input: &[f32], batch: usize) -> Vec<f32> {
    let mut graph = Graph::new(device, &model.net, batch, false).unwrap();
    graph.input().write_f32(device, input).unwrap();
    let mut rec = Recorder::new(device);
    graph.forward(&mut rec, &model.params, false, 0).unwrap();
    rec.submit();
    graph.logits().read_f32(device).await.unwrap()
}

const EXPLAIN: &[u8] = include_bytes!("../fixtures/explain.safetensors");

engine_test! {
    // Saliency and Grad-CAM for class 3 of each fixture's first image equal PyTorch's
    // (make_net_fixtures.py explain): the input's gradient through every backward pass, and the
    // last spatial layer's output and gradient.
    async fn explanations_match_pytorch(device: &Device) {
        let want = crate::common::Fixture::new(EXPLAIN);
        for (arch, file, io) in PYTORCH {
            let io = crate::common::Fixture::new(io);
            let model = Model::new(device, fixture_net(&arch, &io), Init::Default, 0).unwrap();
            model.load_weights(device, file).unwrap();
            let side = model.net.config.side;
            let input = io.get("input")[..side * side].to_vec();
            let e = cnnscope::model::explain::explain(device, &model, |_, t| t.write_f32(device, &input), 3).await.unwrap();
            let net = arch.id();
            assert_eq!((e.class, e.side), (3, side));
            assert_close(&format!("{arch} saliency"), &e.saliency, &want.get(&format!("{net}.saliency")), 1e-3);
            assert_eq!(vec![e.cam_h, e.cam_w], want.shape(&format!("{net}.cam")), "{arch}: Grad-CAM on {}", e.cam_layer);
            assert_close(&format!("{arch} Grad-CAM on {}", e.cam_layer), &e.cam, &want.get(&format!("{net}.cam")), 1e-3);
        }
        let io = crate::common::Fixture::new(PYTORCH[0].2);
        let model = Model::new(device, fixture_net(&Arch::AlexNet, &io), Init::Default, 0).unwrap();
        let err = cnnscope::model::explain::explain(device, &model, |_, _| Ok(()), 10).await.unwrap_err();
        assert!(err.to_string().contains("there is no class 10: the network has 10"), "{err}");
    }

    // An own network of linear layers alone: no Grad-CAM, and the saliency of `flatten; linear
    // 10` is exactly |W[class]| (∂ logit_c / ∂ x = W[c]).
    async fn a_network_without_positions_is_explained_by_saliency_alone(device: &Device) {
        let config = NetConfig { arch: Arch::Own("flatten\nlinear 10".into()), ratio: 1, side: 6, second_hidden: true };
        let model = Model::new(device, Net::new(config).unwrap(), Init::Default, 1).unwrap();
        let input: Vec<f32> = (0..36).map(|i| i as f32 / 36.0).collect();
        let e = cnnscope::model::explain::explain(device, &model, |_, t| t.write_f32(device, &input), 4).await.unwrap();
        assert_eq!((e.cam_layer.as_str(), e.cam_h, e.cam_w, e.cam.len()), ("", 0, 0, 0));
        let weights = model.params.read(device).await.unwrap();
        let row: Vec<f32> = weights[0][4 * 36..5 * 36].iter().map(|w| w.abs()).collect();
        assert_close("saliency through one linear layer", &e.saliency, &row, 1e-6);
    }

    async fn pytorch_weights_give_pytorch_logits(device: &Device) {
        for (arch, file, io) in PYTORCH {
            let io = crate::common::Fixture::new(io);
            let model = Model::new(device, fixture_net(&arch, &io), Init::Default, 0).unwrap();
            model.load_weights(device, file).unwrap_or_else(|e| panic!("{arch}: {e}"));
            let got = logits(device, &model, &io.get("input"), 3).await;
            assert_close(&format!("{arch} logits"), &got, &io.get("logits"), RTOL);
        }
    }

    async fn backward_gives_pytorch_gradients(device: &Device) {
        for (arch, file, io) in PYTORCH {
            let io = crate::common::Fixture::new(io);
            let model = Model::new(device, fixture_net(&arch, &io), Init::Default, 0).unwrap();
            model.load_weights(device, file).unwrap();
            let mut graph = Graph::new(device, &model.net, 3, true).unwrap();
            graph.input().write_f32(device, &io.get("input")).unwrap();
            let labels: Vec<u32> = io.get("labels").iter().map(|&l| l as u32).collect();
            let labels = Tensor::from_u32(device, &[3], &labels, "labels").unwrap();
            let stats = Tensor::zeros(device, &[3], DType::F32, "stats").unwrap();
            let grads = model.params.zeros_like(device, "gradient").unwrap();
            let mut rec = Recorder::new(device);
            // Evaluation mode, as PyTorch's fixture (dropout off), still with gradients.
            graph.forward(&mut rec, &model.params, false, 0).unwrap();
            ops::softmax_cross_entropy(&mut rec, graph.logits(), &labels, graph.logits_grad().unwrap(), &stats, graph.batch).unwrap();
            graph.backward(&mut rec, &model.params, &grads).unwrap();
            rec.submit();
            for (spec, grad) in model.params.specs.iter().zip(&grads) {
                let got = grad.read_f32(device).await.unwrap();
                assert_close(&format!("{arch} gradient of {}", spec.name), &got, &io.get(&format!("grad.{}", spec.name)), RTOL);
            }
        }
    }

    async fn saved_weights_are_pytorch_files(device: &Device) {
        for (arch, file, io) in PYTORCH {
            let io = crate::common::Fixture::new(io);
            let model = Model::new(device, fixture_net(&arch, &io), Init::Default, 0).unwrap();
            model.load_weights(device, file).unwrap();
            let saved = model.save_weights(device).await.unwrap();
            let (ours, theirs) = (safetensors::SafeTensors::deserialize(&saved).unwrap(), safetensors::SafeTensors::deserialize(file).unwrap());
            let mut names = ours.names();
            names.sort();
            let mut expected = theirs.names();
            expected.sort();
            assert_eq!(names, expected, "{arch}: keys");
            for name in names {
                let (a, b) = (ours.tensor(name).unwrap(), theirs.tensor(name).unwrap());
                assert_eq!((a.dtype(), a.shape(), a.data()), (b.dtype(), b.shape(), b.data()), "{arch}: {name}");
            }
        }
    }

    async fn weights_that_do_not_fit_are_refused_and_nothing_changes(device: &Device) {
        let [_, _, (arch, file, io), _] = PYTORCH;
        let io = crate::common::Fixture::new(io);
        let model = Model::new(device, fixture_net(&arch, &io), Init::Default, 7).unwrap();
        let before = model.params.read(device).await.unwrap();
        let specs = &model.params.specs;
        let good = weights::from_safetensors(specs, file).unwrap();

        let mut renamed = specs.clone();
        renamed[0].name = "features.0.weight".into();
        let wrong_key = weights::to_safetensors(&renamed, &good, None).unwrap();
        let fewer = weights::to_safetensors(&specs[..specs.len() - 2], &good[..good.len() - 2], None).unwrap();
        let mut reshaped = specs.clone();
        reshaped[0].shape = vec![reshaped[0].len()];
        let flat = weights::to_safetensors(&reshaped, &good, None).unwrap();
        let other_net = PYTORCH[0].1;
        let cases: [(&[u8], &str); 5] = [
            (&wrong_key, "weights file: it does not fit this network (missing 0.0.weight; unexpected features.0.weight); the current model is unchanged"),
            (&fewer, "weights file: it does not fit this network (missing 7.4.bias, 7.4.weight); the current model is unchanged"),
            (&flat, "weights file: 0.0.weight has shape [726], this network needs [6, 1, 11, 11]; the current model is unchanged"),
            (&file[..100], "weights file: not a valid safetensors file"),
            (other_net, "weights file: it does not fit this network (missing 0.0.bias, 0.0.weight, 0.2.bias, 0.2.weight and 20 more; unexpected conv.0.bias, conv.0.weight, conv.10.bias, conv.10.weight and 12 more); the current model is unchanged"),
        ];
        for (bytes, message) in cases {
            let err = model.load_weights(device, bytes).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
        assert_eq!(model.params.read(device).await.unwrap(), before, "a refused file changes nothing");
    }

    async fn training_mode_backward_matches_finite_differences(device: &Device) {
        // Dropout's masks must be the same in the forward and backward passes of a training step.
        // A small MLP keeps ReLU kinks away from the finite differences (whole networks have so
        // many that no step size works; their backward is checked against PyTorch above).
        let root = Layer::Sequential(vec![
            ("0".into(), Layer::Flatten),
            ("1".into(), Layer::Linear { in_features: 16, out_features: 24 }),
            ("2".into(), Layer::Relu),
            ("3".into(), Layer::Dropout(0.5)),
            ("4".into(), Layer::Linear { in_features: 24, out_features: 10 }),
        ]);
        let net = Net { config: NetConfig::new(Arch::AlexNet, 1).with_side(4), root };
        check_network_gradient(device, net).await;
    }
}

/// Mean cross-entropy of a training forward pass (dropout on, with a fixed seed) at `values`, and
/// optionally the backward pass's parameter gradients.
async fn loss_and_grads(device: &Device, net: &Net, values: &[Vec<f32>], input: &[f32], labels: &Tensor, want_grads: bool) -> (f64, Vec<Vec<f32>>) {
    let batch = labels.len();
    let params = Parameters::upload(device, net.root.params(""), values).unwrap();
    let grads = params.zeros_like(device, "gradient").unwrap();
    let mut graph = Graph::new(device, net, batch, true).unwrap();
    graph.input().write_f32(device, input).unwrap();
    let stats = Tensor::zeros(device, &[3], DType::F32, "stats").unwrap();
    let mut rec = Recorder::new(device);
    graph.forward(&mut rec, &params, true, 1234).unwrap();
    ops::softmax_cross_entropy(&mut rec, graph.logits(), labels, graph.logits_grad().unwrap(), &stats, graph.batch).unwrap();
    if want_grads {
        graph.backward(&mut rec, &params, &grads).unwrap();
    }
    rec.submit();
    let loss = stats.read_f32(device).await.unwrap()[0] as f64 / batch as f64;
    let mut out = Vec::new();
    if want_grads {
        for g in &grads {
            out.push(g.read_f32(device).await.unwrap());
        }
    }
    (loss, out)
}

async fn check_network_gradient(device: &Device, net: Net) {
    let batch = 2;
    let side = net.config.side;
    let model = Model::new(device, net.clone(), Init::Default, 3).unwrap();
    let values = model.params.read(device).await.unwrap();
    let input: Vec<f32> = random(batch * side * side, 5).iter().map(|v| 0.5 + 0.5 * v).collect();
    let labels = Tensor::from_u32(device, &[batch], &[3, 8], "labels").unwrap();
    let (_, grads) = loss_and_grads(device, &net, &values, &input, &labels, true).await;
    assert!(grads.iter().all(|g| g.iter().all(|v| v.is_finite())));
    let flat = |vs: &[Vec<f32>]| vs.concat();
    let shapes: Vec<usize> = values.iter().map(Vec::len).collect();
    let unflat = move |x: Vec<f32>| {
        let mut out = Vec::new();
        let mut at = 0;
        for &n in &shapes {
            out.push(x[at..at + n].to_vec());
            at += n;
        }
        out
    };
    let what = "training-mode backward";
    check_directional_derivative(what, &flat(&values), &flat(&grads), 11, 1e-3, |x| {
        let (net, input, labels, values) = (&net, &input, &labels, unflat(x));
        async move { loss_and_grads(device, net, &values, input, labels, false).await.0 }
    })
    .await;
}
