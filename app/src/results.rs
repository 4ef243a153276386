//! Results on the test set: confusion matrix, per-class accuracy and a gallery of mistakes.

use std::cell::RefCell;
use std::rc::Rc;

use cnnscope::data::{CLASS_NAMES, FashionMnist};
use cnnscope::train::Evaluator;
use leptos::prelude::*;

use crate::grey_image::GreyImage;
use crate::session::Session;

/// Mistakes shown in the gallery.
const GALLERY: usize = 24;

#[component]
pub fn Results(session: StoredValue<Option<Rc<RefCell<Session>>>, LocalStorage>, data: RwSignal<Option<Rc<FashionMnist>>, LocalStorage>, ready: Signal<bool>) -> impl IntoView {
    let predictions = RwSignal::new(None::<Result<Vec<u8>, String>>);
    let busy = RwSignal::new(false);
    let evaluate = move |_| {
        let Some(session) = session.get_value() else { return };
        let Ok(s) = session.try_borrow() else { return };
        let (gpu, model, test) = s.snapshot();
        let batch = s.setup.batch.max(100);
        drop(s);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = async {
                let mut evaluator = Evaluator::new(&gpu, &model, &test, batch)?;
                evaluator.predict(&gpu, &model, &test).await
            }
            .await
            .map_err(|e| e.to_string());
            predictions.set(Some(result));
            busy.set(false);
        });
    };
    view! {
        <div class="controls">
            <button data-testid="evaluate" disabled=move || !ready.get() || busy.get() on:click=evaluate>"evaluate on the test set"</button>
            <span class="hint">{move || if busy.get() { "classifying the 10,000 test images…" } else { "uses the model as it is now (pause training first for a steady picture)" }}</span>
        </div>
        {move || match (predictions.get(), data.get()) {
            (Some(Ok(p)), Some(d)) => render(&p, &d).into_any(),
            (Some(Err(e)), _) => view! { <p class="error">{e}</p> }.into_any(),
            _ => ().into_any(),
        }}
    }
}

fn render(predictions: &[u8], data: &FashionMnist) -> impl IntoView {
    let labels = &data.test.labels;
    let k = CLASS_NAMES.len();
    let mut matrix = vec![vec![0usize; k]; k];
    for (&p, &l) in predictions.iter().zip(labels) {
        matrix[l as usize][p as usize] += 1;
    }
    let total_right: usize = (0..k).map(|i| matrix[i][i]).sum();
    let header = CLASS_NAMES.iter().map(|n| view! { <th class="rot"><span>{*n}</span></th> }).collect_view();
    let rows = (0..k)
        .map(|i| {
            let count: usize = matrix[i].iter().sum();
            let cells = (0..k)
                .map(|j| {
                    let n = matrix[i][j];
                    let share = n as f64 / count.max(1) as f64;
                    let colour = if i == j { format!("rgba(43, 138, 62, {:.2})", 0.1 + 0.8 * share) } else { format!("rgba(201, 42, 42, {:.2})", (4.0 * share).min(0.85)) };
                    view! { <td class="num" style=format!("background: {colour}")>{n}</td> }
                })
                .collect_view();
            view! {
                <tr>
                    <th>{CLASS_NAMES[i]}</th>
                    {cells}
                    <td class="num acc">{format!("{:.1}%", 100.0 * matrix[i][i] as f64 / count.max(1) as f64)}</td>
                </tr>
            }
        })
        .collect_view();
    let mistakes: Vec<usize> = predictions.iter().zip(labels).enumerate().filter(|(_, (p, l))| p != l).map(|(i, _)| i).take(GALLERY).collect();
    let (rows_px, cols_px) = (data.test.images.rows, data.test.images.cols);
    let gallery = mistakes
        .into_iter()
        .map(|i| {
            let pixels = data.test.images.pixels[i * rows_px * cols_px..(i + 1) * rows_px * cols_px].to_vec();
            view! {
                <figure class="sample mistake">
                    <GreyImage pixels=pixels rows=rows_px cols=cols_px />
                    <figcaption>{format!("#{i}: {} → {}", CLASS_NAMES[labels[i] as usize], CLASS_NAMES[predictions[i] as usize])}</figcaption>
                </figure>
            }
        })
        .collect_view();
    view! {
        <p data-testid="test-accuracy">{format!("Test accuracy {:.2}% ({total_right} of {} images). Rows: true class; columns: predicted.", 100.0 * total_right as f64 / predictions.len().max(1) as f64, predictions.len())}</p>
        <table class="confusion" data-testid="confusion">
            <thead><tr><th></th>{header}<th>"accuracy"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <h3>"Misclassified"</h3>
        <div class="gallery" data-testid="mistakes">{gallery}</div>
    }
}
