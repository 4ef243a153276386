//! The layer table: every module's output shape, parameters and FLOPs, blocks bold, totals last —
//! the same rows as `cnnscope summary`.

use cnnscope::net::Summary;
use cnnscope::net::summary::{grouped, si};
use leptos::prelude::*;

#[component]
pub fn LayerTable(summary: Summary) -> impl IntoView {
    let rows = summary
        .rows
        .iter()
        .map(|r| {
            let class = if r.depth == 0 { "block" } else { "leaf" };
            let params = if r.params > 0 { grouped(r.params) } else { String::new() };
            let flops = if r.flops > 0 { si(r.flops as f64) } else { String::new() };
            let indent = format!("padding-left: {}em", 0.3 + 1.2 * r.depth as f32);
            view! {
                <tr class=class>
                    <td style=indent>{r.name.clone()}</td>
                    <td>{r.kind}</td>
                    <td class="num">{r.output.to_string()}</td>
                    <td class="num">{params}</td>
                    <td class="num">{flops}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="scroll" tabindex="0" role="region" aria-label="layer table"><table class="layers" data-testid="layer-table">
            <thead>
                <tr><th scope="col">"layer"</th><th scope="col">"type"</th><th scope="col">"output"</th><th scope="col">"params"</th><th scope="col">"FLOPs"</th></tr>
            </thead>
            <tbody>
                <tr class="input"><td>"input"</td><td></td><td class="num">{summary.input.to_string()}</td><td></td><td></td></tr>
                {rows}
                <tr class="total">
                    <td>"total"</td><td></td><td></td>
                    <td class="num">{grouped(summary.params)}</td>
                    <td class="num">{si(summary.flops as f64)}</td>
                </tr>
            </tbody>
        </table></div>
    }
}
