//! Line charts on a canvas: training loss per reporting interval, train and test accuracy.

use leptos::html::Canvas;
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
    /// (x, y) in data units.
    pub points: Vec<(f64, f64)>,
}

/// A chart that redraws whenever `series` changes. `y_range` fixes the y axis (accuracy: 0–1).
#[component]
pub fn Chart(title: &'static str, x_label: &'static str, series: Signal<Vec<Series>>, #[prop(optional)] y_range: Option<(f64, f64)>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let series = series.get();
        if let Some(canvas) = canvas.get() {
            draw(&canvas, &series, x_label, y_range);
        }
    });
    // The numbers the chart draws, in words and as tables, for screen readers.
    let words = move || series.with(|s| describe(s, x_label));
    let tables = move || series.with(|s| s.iter().filter(|s| !s.points.is_empty()).map(|s| values_table(s, x_label)).collect_view());
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <canvas node_ref=canvas width="440" height="220" data-testid=title role="img" aria-label=words></canvas>
            <div class="visually-hidden">{tables}</div>
        </figure>
    }
}

/// How many of a curve's latest points its table lists.
const TABLE_ROWS: usize = 10;

/// A curve in words: for each series, its points' span, first, last, lowest and highest values.
pub fn describe(series: &[Series], x_label: &str) -> String {
    let parts: Vec<String> = series
        .iter()
        .map(|s| {
            let (Some(&(x0, y0)), Some(&(x1, y1))) = (s.points.first(), s.points.last()) else {
                return format!("{}: no values yet", s.name);
            };
            let low = s.points.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((x0, y0));
            let high = s.points.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((x0, y0));
            let n = s.points.len();
            format!(
                "{}: {n} point{} from {} to {} {x_label}, first {y0:.3}, last {y1:.3}, lowest {:.3} at {}, highest {:.3} at {}",
                s.name,
                if n == 1 { "" } else { "s" },
                number(x0),
                number(x1),
                low.1,
                number(low.0),
                high.1,
                number(high.0)
            )
        })
        .collect();
    if series.iter().all(|s| s.points.is_empty()) {
        return format!("{}: starts with training", parts.join("; "));
    }
    parts.join("; ")
}

/// An x value as the axis would print it: whole where it is whole.
fn number(x: f64) -> String {
    if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.2}") }
}

/// A series' latest points as a table.
fn values_table(s: &Series, x_label: &str) -> impl IntoView + use<> {
    let n = s.points.len();
    let caption = if n > TABLE_ROWS { format!("{}: the latest {TABLE_ROWS} of {n} points", s.name) } else { format!("{}: all {n} points", s.name) };
    let rows = s.points[n.saturating_sub(TABLE_ROWS)..]
        .iter()
        .map(|&(x, y)| view! { <tr><td>{number(x)}</td><td>{format!("{y:.4}")}</td></tr> })
        .collect_view();
    let (x_label, name) = (x_label.to_string(), s.name);
    view! {
        <table>
            <caption>{caption}</caption>
            <thead><tr><th scope="col">{x_label}</th><th scope="col">{name}</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

fn draw(canvas: &web_sys::HtmlCanvasElement, series: &[Series], x_label: &str, y_range: Option<(f64, f64)>) {
    let Some(ctx) = crate::page::canvas::context(canvas) else {
        return;
    };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let (left, right, top, bottom) = (44.0, 10.0, 10.0, 30.0);
    ctx.clear_rect(0.0, 0.0, w, h);
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        ctx.set_fill_style_str("#5b6475");
        ctx.set_font("13px system-ui, sans-serif");
        let _ = ctx.fill_text("starts with training", left + 10.0, h / 2.0);
        return;
    }
    if let Some((a, b)) = y_range {
        (y0, y1) = (a, b);
    } else {
        y0 = y0.min(0.0);
        y1 = y1.max(y0 + 1e-6) * 1.05;
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (1.0 - (y - y0) / (y1 - y0)) * (h - top - bottom);

    // Grid and axis labels.
    ctx.set_font("11px system-ui, sans-serif");
    y_grid(&ctx, (y0, y1), (left, w - right), py);
    // Whole numbers where the axis is long, two decimals where it spans less than a few units.
    let digits = if x1 - x0 < 5.0 { 2 } else { 0 };
    let _ = ctx.fill_text(&format!("{x0:.digits$}"), left, h - 10.0);
    let end = format!("{x1:.digits$} {x_label}");
    let _ = ctx.fill_text(&end, w - right - 6.5 * end.len() as f64, h - 10.0);

    // Series and legend.
    for (i, s) in series.iter().enumerate() {
        ctx.set_stroke_style_str(s.color);
        ctx.set_fill_style_str(s.color);
        ctx.set_line_width(2.0);
        ctx.begin_path();
        for (j, &(x, y)) in s.points.iter().enumerate() {
            if j == 0 {
                ctx.move_to(px(x), py(y));
            } else {
                ctx.line_to(px(x), py(y));
            }
        }
        ctx.stroke();
        if s.points.len() == 1 {
            ctx.begin_path();
            let _ = ctx.arc(px(s.points[0].0), py(s.points[0].1), 3.0, 0.0, std::f64::consts::TAU);
            ctx.fill();
        }
        // Legend below the plot, clear of the lines.
        let _ = ctx.fill_text(s.name, left + 60.0 + 90.0 * i as f64, h - 10.0);
    }
}

/// One finished run in the accuracy-against-compute picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    pub label: String,
    pub color: &'static str,
    /// FLOPs per image (drawn on a log scale).
    pub flops: f64,
    pub accuracy: f64,
}

/// Test accuracy against FLOPs per image, one dot per finished run: the lesson's comparison
/// (does GoogLeNet reach AlexNet's accuracy for less compute?) as a picture.
#[component]
pub fn AccuracyAgainstFlops(dots: Signal<Vec<Dot>>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let dots = dots.get();
        if let Some(canvas) = canvas.get() {
            draw_dots(&canvas, &dots);
        }
    });
    // The dots as text, for tests and screen readers.
    let described = move || dots.get().iter().map(|d| format!("{}: {:.0} FLOPs, accuracy {:.3}", d.label, d.flops, d.accuracy)).collect::<Vec<_>>().join("; ");
    let words = move || {
        let dots = described();
        if dots.is_empty() { "no finished runs yet: a dot for every run that finishes".to_string() } else { format!("test accuracy against FLOPs per image: {dots}") }
    };
    view! {
        <figure class="chart">
            <figcaption>"test accuracy against FLOPs per image (one dot per finished run)"</figcaption>
            <canvas node_ref=canvas width="440" height="220" data-testid="accuracy-flops" role="img" aria-label=words data-dots=described></canvas>
        </figure>
    }
}

fn draw_dots(canvas: &web_sys::HtmlCanvasElement, dots: &[Dot]) {
    let Some(ctx) = crate::page::canvas::context(canvas) else {
        return;
    };
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let (left, right, top, bottom) = (44.0, 14.0, 10.0, 30.0);
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_font("11px system-ui, sans-serif");
    if dots.is_empty() {
        ctx.set_fill_style_str("#5b6475");
        ctx.set_font("13px system-ui, sans-serif");
        let _ = ctx.fill_text("a dot for every run that finishes", left + 10.0, h / 2.0);
        return;
    }
    // Whole decades of FLOPs around the dots.
    let logs = dots.iter().map(|d| d.flops.max(1.0).log10());
    let (lo, hi) = logs.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
    // Half a decade of room on each side, so no dot sits on the frame.
    let (x0, x1) = ((lo - 0.5).floor(), (hi + 0.5).ceil());
    let px = |flops: f64| left + (flops.max(1.0).log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |acc: f64| top + (1.0 - acc) * (h - top - bottom);
    y_grid(&ctx, (0.0, 1.0), (left, w - right), py);
    for decade in x0 as i32..=x1 as i32 {
        let x = px(10f64.powi(decade));
        let _ = ctx.fill_text(&crate::page::charts::si_label(10f64.powi(decade)), x - 8.0, h - 10.0);
    }
    for d in dots {
        ctx.set_fill_style_str(d.color);
        ctx.begin_path();
        let _ = ctx.arc(px(d.flops), py(d.accuracy), 5.0, 0.0, std::f64::consts::TAU);
        ctx.fill();
        // Labels to the right of their dot, or to its left in the plot's right half.
        let x = px(d.flops);
        let width = ctx.measure_text(&d.label).map(|m| m.width()).unwrap_or(0.0);
        let at = if x + 7.0 + width > w - right { x - 7.0 - width } else { x + 7.0 };
        let _ = ctx.fill_text(&d.label, at, py(d.accuracy) - 6.0);
    }
}

/// 1e6 → "1M": the FLOPs axis's decades.
pub fn si_label(v: f64) -> String {
    cnnscope::net::summary::si(v).replace(".00 ", "").replace(' ', "")
}

/// Five horizontal grid lines from y0 to y1, each labelled at the left; `py` maps a value to
/// its pixel row.
fn y_grid(ctx: &web_sys::CanvasRenderingContext2d, (y0, y1): (f64, f64), (from, to): (f64, f64), py: impl Fn(f64) -> f64) {
    ctx.set_line_width(1.0);
    for i in 0..=4 {
        let y = y0 + (y1 - y0) * i as f64 / 4.0;
        ctx.set_stroke_style_str("#e3e7ee");
        ctx.begin_path();
        ctx.move_to(from, py(y));
        ctx.line_to(to, py(y));
        ctx.stroke();
        ctx.set_fill_style_str("#5b6475");
        let _ = ctx.fill_text(&format!("{y:.2}"), 4.0, py(y) + 4.0);
    }
}
