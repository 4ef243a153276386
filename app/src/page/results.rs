//! Results on the test set: confusion matrix, per-class accuracy and a gallery of mistakes.

use cnnscope::data::CLASS_NAMES;
use leptos::prelude::*;

use crate::page::grey_image::GreyImage;
use crate::protocol::{Command, Evaluation};
use crate::page::view::use_view;

#[component]
pub fn Results() -> impl IntoView {
    let view = use_view();
    let evaluate = move |_| {
        view.evaluating.set(true);
        crate::page::bridge::send(Command::Evaluate);
    };
    view! {
        <div class="controls">
            <button data-testid="evaluate" disabled=move || view.run.get() == 0 || view.evaluating.get() on:click=evaluate>"evaluate on the test set"</button>
            <span class="hint">{move || if view.evaluating.get() { "classifying the 10,000 test images…" } else { "uses the model as it is now (pause training first for a steady picture)" }}</span>
        </div>
        {move || match view.evaluation.get() {
            Some(Ok(e)) => render(&e).into_any(),
            Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

fn render(evaluation: &Evaluation) -> impl IntoView {
    let (predictions, labels) = (&evaluation.predictions, &evaluation.labels);
    let k = CLASS_NAMES.len();
    let mut matrix = vec![vec![0usize; k]; k];
    for (&p, &l) in predictions.iter().zip(labels) {
        matrix[l as usize][p as usize] += 1;
    }
    let header = CLASS_NAMES.iter().map(|n| view! { <th class="rot" scope="col"><span>{*n}</span></th> }).collect_view();
    let rows = (0..k)
        .map(|i| {
            let count: usize = matrix[i].iter().sum();
            let cells = (0..k)
                .map(|j| {
                    let n = matrix[i][j];
                    let share = n as f64 / count.max(1) as f64;
                    // At most 0.7 green and 0.6 red, so the count stays readable (WCAG AA contrast).
                    let colour = if i == j { format!("rgba(43, 138, 62, {:.2})", 0.1 + 0.6 * share) } else { format!("rgba(201, 42, 42, {:.2})", (4.0 * share).min(0.6)) };
                    view! { <td class="num" style=format!("background: {colour}")>{n}</td> }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{CLASS_NAMES[i]}</th>
                    {cells}
                    <td class="num acc">{format!("{:.1}%", 100.0 * matrix[i][i] as f64 / count.max(1) as f64)}</td>
                </tr>
            }
        })
        .collect_view();
    let (rows_px, cols_px) = (evaluation.rows, evaluation.cols);
    let view = use_view();
    let gallery = evaluation
        .mistakes
        .iter()
        .map(|(i, pixels)| {
            let (truth, guess) = (labels[*i] as usize, predictions[*i] as usize);
            let i = *i;
            let caption = format!("#{i}: {} → {}", CLASS_NAMES[truth], CLASS_NAMES[guess]);
            let alt = format!("test image #{i}: {}, taken for {}", CLASS_NAMES[truth], CLASS_NAMES[guess]);
            // A button: it shows this image inside the network (card 5).
            view! {
                <button type="button" class="sample mistake" data-testid="mistake" data-index=i.to_string()
                    title="look inside the network with this image" on:click=move |_| crate::page::feature_maps::inspect_test_image(view, i)>
                    <GreyImage pixels=pixels.clone() rows=rows_px cols=cols_px label=alt />
                    <span class="caption">{caption}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <p data-testid="test-accuracy">{format!("{}. Rows: true class; columns: predicted.", evaluation.accuracy_line())}</p>
        <div class="scroll" tabindex="0" role="region" aria-label="confusion matrix" data-testid="confusion-region"><table class="confusion" data-testid="confusion">
            <caption class="visually-hidden">"Confusion matrix: each row a true class, each column the class predicted, and the row's accuracy"</caption>
            <thead><tr><td></td>{header}<th scope="col">"accuracy"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
        <h3>"Misclassified"</h3>
        <p class="hint">"Pick one to look inside the network with it."</p>
        <div class="gallery" data-testid="mistakes">{gallery}</div>
    }
}
