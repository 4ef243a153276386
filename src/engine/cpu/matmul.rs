//! The CPU engine's one matrix product: the `gemm` crate's kernels behind a safe, bounds-checked
//! call. Every convolution and linear layer, forward and backward, is built on it. The crate's one
//! `unsafe` block is here (the crate denies `unsafe_code` everywhere else).
#![allow(unsafe_code)]

/// A row-major or strided matrix view: `rows × cols` values of `data`, element (i, j) at
/// `i·row_stride + j·col_stride`. A transposed matrix is the same memory with the strides swapped.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `rows × cols` stored row by row.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose: the same memory read column by column.
    pub fn t(self) -> Mat<'a> {
        Mat { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    /// Whether every element lies inside `data`, in checked arithmetic (a stride that overflowed
    /// would otherwise wrap to an index inside the slice), and the strides fit the `isize` the
    /// product takes.
    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1).checked_mul(self.row_stride).zip((self.cols - 1).checked_mul(self.col_stride)).and_then(|(r, c)| r.checked_add(c));
        last.is_some_and(|last| last < self.data.len()) && isize::try_from(self.row_stride).is_ok() && isize::try_from(self.col_stride).is_ok()
    }
}

/// Whether a product spreads over threads itself: a single large product (a linear layer, one
/// image) does; products already running one per thread (a convolution's images) do not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    One,
    All,
}

/// c (m×n, rows of `c_stride` values) = a·b, or c += a·b with `accumulate`.
///
/// Panics if a view reaches past its slice or the shapes disagree: callers derive every size from
/// shapes the op checked when it was recorded, so this is an engine bug, never bad input.
pub(crate) fn gemm(c: &mut [f32], c_stride: usize, accumulate: bool, a: Mat, b: Mat, threads: Threads) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert_eq!(b.rows, k, "gemm: inner dimensions differ");
    let c_view = Mat { data: c, rows: m, cols: n, row_stride: c_stride, col_stride: 1 };
    assert!(a.fits() && b.fits() && c_view.fits(), "gemm: a view reaches past its memory");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(c_stride.max(1)).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        #[cfg(not(target_arch = "wasm32"))]
        Threads::All => gemm::Parallelism::Rayon(0),
        #[cfg(target_arch = "wasm32")]
        Threads::All => gemm::Parallelism::None,
    };
    // SAFETY: every element the product touches lies inside its slice (checked above), `c` is
    // borrowed mutably and so aliases neither input, and the strides fit isize (they index slices).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat, b: Mat) -> Vec<f32> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for k in 0..a.cols {
                    s += a.data[i * a.row_stride + k * a.col_stride] as f64 * b.data[k * b.row_stride + j * b.col_stride] as f64;
                }
                c[i * b.cols + j] = s as f32;
            }
        }
        c
    }

    /// A view whose last element's index overflows is refused (it wrapped to an index inside the
    /// slice before the arithmetic was checked), as is one past the slice.
    #[test]
    fn views_past_their_memory_are_refused_in_checked_arithmetic() {
        let data = [0.0f32; 4];
        let wrapped = Mat { data: &data, rows: 2, cols: 2, row_stride: usize::MAX, col_stride: 1 };
        assert!(!wrapped.fits());
        let huge = Mat { data: &data, rows: 2, cols: 1, row_stride: usize::MAX / 2 + 1, col_stride: 1 };
        assert!(!huge.fits());
        assert!(!Mat::rows(&data, 2, 3).fits());
        assert!(Mat::rows(&data, 2, 2).fits() && Mat::rows(&data, 2, 2).t().fits());
        let result = std::panic::catch_unwind(|| {
            let mut c = [0.0f32; 4];
            gemm(&mut c, 2, false, wrapped, Mat::rows(&data, 2, 2), Threads::One);
        });
        let message = result.unwrap_err();
        let message = message.downcast_ref::<&str>().copied().or(message.downcast_ref::<String>().map(String::as_str)).unwrap_or_default().to_string();
        assert!(message.contains("reaches past its memory"), "{message}");
    }

    #[test]
    fn products_with_transposes_and_accumulation_match_the_definition() {
        let values = |n: usize, seed: u32| (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect::<Vec<_>>();
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 3, 300)] {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let (at, bt) = (values(m * k, 3), values(k * n, 4));
            for (a, b) in [
                (Mat::rows(&a, m, k), Mat::rows(&b, k, n)),
                (Mat::rows(&at, k, m).t(), Mat::rows(&bt, n, k).t()),
            ] {
                let want = naive(a, b);
                for threads in [Threads::One, Threads::All] {
                    let mut c = vec![0.5; m * n];
                    gemm(&mut c, n, false, a, b, threads);
                    for (g, w) in c.iter().zip(&want) {
                        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{m}×{n}×{k}: {g} vs {w}");
                    }
                    gemm(&mut c, n, true, a, b, threads);
                    for (g, w) in c.iter().zip(&want) {
                        assert!((g - 2.0 * w).abs() <= 2e-4 * (1.0 + w.abs()), "{m}×{n}×{k} accumulated: {g} vs {}", 2.0 * w);
                    }
                }
            }
        }
    }
}
