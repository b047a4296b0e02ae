//! The constant-velocity Kalman filters of Ultralytics' trackers, in double precision: ByteTrack's on
//! (centre x, centre y, aspect ratio, height) and BoT-SORT's on (centre x, centre y, width, height), each
//! with its velocities, and the noise Ultralytics gives them (a twentieth of the size for positions, a
//! hundred-and-sixtieth for velocities; ByteTrack's aspect ratio fixed ones).

// Matrix algebra reads best with its indices.
#![allow(clippy::needless_range_loop)]

/// State: four coordinates, then their velocities.
pub(crate) type Mean = [f64; 8];
/// The state's covariance.
pub(crate) type Covariance = [[f64; 8]; 8];

const POSITION: f64 = 1.0 / 20.0;
const VELOCITY: f64 = 1.0 / 160.0;

/// Which of the two filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// ByteTrack's: centre, aspect ratio (width / height), height.
    Xyah,
    /// BoT-SORT's: centre, width, height.
    Xywh,
}

impl Filter {
    /// The standard deviations of a new track's state from its first measurement.
    fn initial_std(self, z: &[f64; 4]) -> [f64; 8] {
        match self {
            Filter::Xyah => {
                let h = z[3];
                let (p, v) = (2.0 * POSITION * h, 10.0 * VELOCITY * h);
                [p, p, 0.01, p, v, v, 1e-5, v]
            }
            Filter::Xywh => {
                let (w, h) = (z[2], z[3]);
                let (pw, ph, vw, vh) =
                    (2.0 * POSITION * w, 2.0 * POSITION * h, 10.0 * VELOCITY * w, 10.0 * VELOCITY * h);
                [pw, ph, pw, ph, vw, vh, vw, vh]
            }
        }
    }

    /// The process noise's standard deviations for a step from `mean`.
    fn motion_std(self, mean: &Mean) -> [f64; 8] {
        match self {
            Filter::Xyah => {
                let h = mean[3];
                let (p, v) = (POSITION * h, VELOCITY * h);
                [p, p, 0.01, p, v, v, 1e-5, v]
            }
            Filter::Xywh => {
                let (w, h) = (mean[2], mean[3]);
                [
                    POSITION * w,
                    POSITION * h,
                    POSITION * w,
                    POSITION * h,
                    VELOCITY * w,
                    VELOCITY * h,
                    VELOCITY * w,
                    VELOCITY * h,
                ]
            }
        }
    }

    /// The measurement noise's standard deviations at `mean`.
    fn measurement_std(self, mean: &Mean) -> [f64; 4] {
        match self {
            Filter::Xyah => {
                let h = mean[3];
                [POSITION * h, POSITION * h, 0.1, POSITION * h]
            }
            Filter::Xywh => {
                let (w, h) = (mean[2], mean[3]);
                [POSITION * w, POSITION * h, POSITION * w, POSITION * h]
            }
        }
    }

    /// A new track's state from its first measurement: the measurement, no velocity.
    pub(crate) fn initiate(self, z: [f64; 4]) -> (Mean, Covariance) {
        let mut mean = [0.0; 8];
        mean[..4].copy_from_slice(&z);
        let mut covariance = [[0.0; 8]; 8];
        for (k, s) in self.initial_std(&z).iter().enumerate() {
            covariance[k][k] = s * s;
        }
        (mean, covariance)
    }

    /// One step ahead: positions move by their velocities; the covariance grows by the process noise.
    pub(crate) fn predict(self, mean: &Mean, covariance: &Covariance) -> (Mean, Covariance) {
        let std = self.motion_std(mean);
        let mut next = *mean;
        for k in 0..4 {
            next[k] = mean[k] + mean[k + 4];
        }
        // F P F^T with F = [[I, I], [0, I]]: blocks P11 + P12 + P21 + P22, P12 + P22, P21 + P22, P22.
        let mut p = [[0.0; 8]; 8];
        for r in 0..8 {
            for c in 0..8 {
                let row = |c: usize| if r < 4 { covariance[r][c] + covariance[r + 4][c] } else { covariance[r][c] };
                p[r][c] = if c < 4 { row(c) + row(c + 4) } else { row(c) };
            }
        }
        for (k, s) in std.iter().enumerate() {
            p[k][k] += s * s;
        }
        (next, p)
    }

    /// The state corrected by measurement `z`.
    pub(crate) fn update(self, mean: &Mean, covariance: &Covariance, z: [f64; 4]) -> (Mean, Covariance) {
        let std = self.measurement_std(mean);
        // Innovation covariance S = H P H^T + R (the top-left block plus the noise).
        let mut s = [[0.0; 4]; 4];
        for r in 0..4 {
            s[r][..4].copy_from_slice(&covariance[r][..4]);
            s[r][r] += std[r] * std[r];
        }
        // Gain K = P H^T S^-1, row by row: K^T = S^-1 (P H^T)^T, S symmetric.
        let inverse = invert4(&s);
        let mut gain = [[0.0; 4]; 8];
        for r in 0..8 {
            for c in 0..4 {
                gain[r][c] = (0..4).map(|k| covariance[r][k] * inverse[k][c]).sum();
            }
        }
        let innovation: [f64; 4] = std::array::from_fn(|k| z[k] - mean[k]);
        let mut next = *mean;
        for r in 0..8 {
            next[r] += (0..4).map(|k| innovation[k] * gain[r][k]).sum::<f64>();
        }
        // P - K S K^T.
        let mut ks = [[0.0; 4]; 8];
        for r in 0..8 {
            for c in 0..4 {
                ks[r][c] = (0..4).map(|k| gain[r][k] * s[k][c]).sum();
            }
        }
        let mut p = *covariance;
        for r in 0..8 {
            for c in 0..8 {
                p[r][c] -= (0..4).map(|k| ks[r][k] * gain[c][k]).sum::<f64>();
            }
        }
        (next, p)
    }
}

/// A state moved by the camera's motion `[a, b, tx, c, d, ty]`: positions and velocities turned and scaled
/// by the linear part, sizes by its absolute values (by its scale, `sqrt(a^2 + c^2)`, for an oriented box),
/// the translation added to the position, the covariance transformed alike (T P T^T).
pub(crate) fn compensate(
    mean: &Mean,
    covariance: &Covariance,
    motion: &[f64; 6],
    oriented: bool,
) -> (Mean, Covariance) {
    let r = [[motion[0], motion[1]], [motion[3], motion[4]]];
    let size = if oriented {
        let scale = (r[0][0] * r[0][0] + r[1][0] * r[1][0]).sqrt();
        [[scale, 0.0], [0.0, scale]]
    } else {
        [[r[0][0].abs(), r[0][1].abs()], [r[1][0].abs(), r[1][1].abs()]]
    };
    // The 8 x 8 transform: 2 x 2 blocks on the diagonal (position, size, velocity, size's velocity).
    let block = |k: usize| if k == 1 || k == 3 { size } else { r };
    let t = |i: usize, j: usize| if i / 2 == j / 2 { block(i / 2)[i % 2][j % 2] } else { 0.0 };
    let mut moved = [0.0; 8];
    for i in 0..8 {
        moved[i] = (0..8).map(|j| t(i, j) * mean[j]).sum();
    }
    moved[0] += motion[2];
    moved[1] += motion[5];
    let mut left = [[0.0; 8]; 8];
    for i in 0..8 {
        for j in 0..8 {
            left[i][j] = (0..8).map(|k| t(i, k) * covariance[k][j]).sum();
        }
    }
    let mut p = [[0.0; 8]; 8];
    for i in 0..8 {
        for j in 0..8 {
            p[i][j] = (0..8).map(|k| left[i][k] * t(j, k)).sum();
        }
    }
    (moved, p)
}

/// The inverse of a symmetric positive-definite 4 x 4 matrix, by Gauss-Jordan elimination with partial
/// pivoting.
fn invert4(m: &[[f64; 4]; 4]) -> [[f64; 4]; 4] {
    let mut a = *m;
    let mut inverse = [[0.0; 4]; 4];
    for (k, row) in inverse.iter_mut().enumerate() {
        row[k] = 1.0;
    }
    for col in 0..4 {
        let pivot = (col..4).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        inverse.swap(col, pivot);
        let p = a[col][col];
        for k in 0..4 {
            a[col][k] /= p;
            inverse[col][k] /= p;
        }
        for r in (0..4).filter(|&r| r != col) {
            let f = a[r][col];
            if f != 0.0 {
                for k in 0..4 {
                    a[r][k] -= f * a[col][k];
                    inverse[r][k] -= f * inverse[col][k];
                }
            }
        }
    }
    inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_still_measurement_pulls_the_state_and_shrinks_the_covariance() {
        for filter in [Filter::Xyah, Filter::Xywh] {
            let z = [100.0, 50.0, if filter == Filter::Xyah { 0.5 } else { 20.0 }, 40.0];
            let (mean, covariance) = filter.initiate(z);
            let (predicted, grown) = filter.predict(&mean, &covariance);
            assert_eq!(predicted, mean, "no velocity yet");
            assert!(grown[0][0] > covariance[0][0]);
            let moved = [104.0, 50.0, z[2], 40.0];
            let (updated, shrunk) = filter.update(&predicted, &grown, moved);
            assert!(updated[0] > 100.0 && updated[0] < 104.0, "{updated:?}");
            assert!(updated[4] > 0.0, "a velocity towards the measurement");
            assert!(shrunk[0][0] < grown[0][0]);
            for r in 0..8 {
                for c in 0..8 {
                    assert!((shrunk[r][c] - shrunk[c][r]).abs() < 1e-9, "symmetric");
                }
            }
        }
    }

    #[test]
    fn the_inverse_inverts() {
        let m = [[4.0, 1.0, 0.5, 0.0], [1.0, 3.0, 0.0, 0.2], [0.5, 0.0, 2.0, 0.1], [0.0, 0.2, 0.1, 1.0]];
        let inverse = invert4(&m);
        for r in 0..4 {
            for c in 0..4 {
                let v: f64 = (0..4).map(|k| m[r][k] * inverse[k][c]).sum();
                assert!((v - if r == c { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
