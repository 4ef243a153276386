//! Data augmentation, AlexNet's fourth idea (the lesson: flips, crops and colour changes fought
//! its overfitting), done inside the batch gather of both engines (`shaders/gather_resize.wgsl`,
//! [`crate::engine::cpu`]'s gather): the arithmetic both engines share lives here, below them.
//!
//! Each training image gets, after resizing to the network's side:
//! - a horizontal flip, with probability ½;
//! - a random crop: the image padded with `side / 8` black pixels on every edge and cropped back
//!   to `side × side` at a uniform offset (pad-and-crop, as torchvision's `RandomCrop(padding)`);
//! - brightness and contrast jitter: `v ← clamp((v·b − ½)·c + ½, 0, 1)` with `b` and `c` uniform
//!   in [0.75, 1.25] (contrast about mid-grey, so a lower contrast lifts the black background).
//!
//! The draws are a stateless hash of the seed, the step and the image's place in the batch, so
//! an augmented run is as reproducible as any other and resumes exactly from a checkpoint (no
//! generator state to keep). The shader computes the same draws as [`Augmentation::draw`].

/// A training step's augmentation: its salt ([`salt`]) and the row, in the step's batch, of the
/// first image gathered: draws are per row of the whole batch, so a micro-batch draws exactly
/// what the whole batch would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    pub salt: u32,
    pub first_row: u32,
}

/// PCG's output permutation of a 32-bit state: the hash behind every draw.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The hash input shared by a step's images: the run's seed and the step's number.
pub fn salt(seed: u64, step: u64) -> u32 {
    pcg((seed as u32) ^ pcg(((seed >> 32) as u32) ^ pcg(step as u32)))
}

/// A uniform draw in [0, 1) from a hash (24 bits: exact in f32 on every device).
fn unit(r: u32) -> f32 {
    (r >> 8) as f32 / 16_777_216.0
}

/// What happens to one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    pub flip: bool,
    /// The crop's offset into the padded image, minus the padding: in [−pad, pad].
    pub dy: i32,
    pub dx: i32,
    pub brightness: f32,
    pub contrast: f32,
}

impl Augmentation {
    /// The draws for image `index` of a batch whose step has `salt`, at side `side`.
    pub fn draw(salt: u32, index: u32, side: u32) -> Augmentation {
        let pad = side / 8;
        let r0 = pcg(salt ^ pcg(index));
        let r1 = pcg(r0);
        let r2 = pcg(r1);
        let r3 = pcg(r2);
        let r4 = pcg(r3);
        let offset = |r: u32| (r % (2 * pad + 1)) as i32 - pad as i32;
        Augmentation { flip: r0 & 1 == 1, dy: offset(r1), dx: offset(r2), brightness: 0.75 + 0.5 * unit(r3), contrast: 0.75 + 0.5 * unit(r4) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_cover_their_ranges_evenly() {
        let draws: Vec<Augmentation> = (0..4000).map(|i| Augmentation::draw(salt(7, i / 64), (i % 64) as u32, 67)).collect();
        let flips = draws.iter().filter(|a| a.flip).count();
        assert!((1800..2200).contains(&flips), "about half flipped: {flips}");
        for pad in -8..=8 {
            assert!(draws.iter().any(|a| a.dy == pad) && draws.iter().any(|a| a.dx == pad), "every offset in ±8 occurs: {pad}");
        }
        assert!(draws.iter().all(|a| (-8..=8).contains(&a.dy) && (0.75..1.25).contains(&a.brightness) && (0.75..1.25).contains(&a.contrast)));
        assert_ne!(salt(7, 1), salt(7, 2));
        assert_ne!(salt(7, 1), salt(8, 1));
    }
}
