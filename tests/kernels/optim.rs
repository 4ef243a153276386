use cnnscope::ops::{Adam, Sgd};
use cnnscope::reference;
use cnnscope::{DType, Recorder, Tensor};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/optim.safetensors");

engine_test! {
    async fn sgd_and_adam_follow_torch_optim_step_by_step(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in f.cases() {
            let hyper = f.get(&format!("{name}.params"));
            let p0 = f.get(&format!("{name}.p0"));
            let grads = f.get(&format!("{name}.g"));
            let expected = f.get(&format!("{name}.p"));
            let n = p0.len();
            let steps = *hyper.last().unwrap() as usize;
            let param = Tensor::from_f32(device, &[5, 7], &p0, "param").unwrap();
            let grad = Tensor::zeros(device, &[5, 7], DType::F32, "grad").unwrap();
            let state: Vec<Tensor> = (0..2).map(|_| Tensor::zeros(device, &[5, 7], DType::F32, "state").unwrap()).collect();
            let (mut cpu, mut s1, mut s2) = (p0.clone(), vec![0f32; n], vec![0f32; n]);
            for t in 0..steps {
                let g = &grads[t * n..(t + 1) * n];
                grad.write_f32(device, g).unwrap();
                let mut rec = Recorder::new(device);
                if name.starts_with("sgd") {
                    let sgd = Sgd { lr: hyper[0], momentum: hyper[1], weight_decay: hyper[2] };
                    sgd.step(&mut rec, &param, &grad, &state[0]).unwrap();
                    reference::sgd_step(&mut cpu, g, &mut s1, sgd.lr, sgd.momentum, sgd.weight_decay);
                } else {
                    let adam = Adam { lr: hyper[0], beta1: hyper[1], beta2: hyper[2], eps: hyper[3], weight_decay: hyper[4] };
                    adam.step(&mut rec, &param, &grad, &state[0], &state[1], t as u32 + 1).unwrap();
                    reference::adam_step(&mut cpu, g, &mut s1, &mut s2, t as u32 + 1, adam.lr, (adam.beta1, adam.beta2), adam.eps, adam.weight_decay);
                }
                let got = run(device, rec, &param).await;
                assert_close(&format!("{name} step {} vs torch.optim", t + 1), &got, &expected[t * n..(t + 1) * n], RTOL);
                assert_close(&format!("{name} step {} vs cpu", t + 1), &got, &cpu, RTOL);
            }
        }
    }

    async fn adam_counts_steps_from_one(device: &Device) {
        let t = Tensor::zeros(device, &[3], DType::F32, "p").unwrap();
        let (g, m, v) = (t.clone(), Tensor::zeros(device, &[3], DType::F32, "m").unwrap(), Tensor::zeros(device, &[3], DType::F32, "v").unwrap());
        let gg = Tensor::zeros(device, &[3], DType::F32, "g").unwrap();
        let mut rec = Recorder::new(device);
        assert!(Adam::default().step(&mut rec, &t, &gg, &m, &v, 0).is_err());
        let err = Adam::default().step(&mut rec, &t, &g, &m, &v, 1).unwrap_err();
        assert!(err.to_string().contains("must not share memory"), "{err}");
        assert!(matches!(err, cnnscope::EngineError::Aliased { .. }), "{err:?}");
    }
}
