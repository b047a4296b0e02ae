//! The outline of a mask as a polygon: the outer boundary of the mask's largest connected region
//! (8-connected), traced through the centres of its boundary pixels, with the points in the middle of
//! straight horizontal, vertical and diagonal runs left out, as OpenCV's `findContours` with `RETR_EXTERNAL`
//! and `CHAIN_APPROX_SIMPLE` gives it. For a mask of one region that is Ultralytics' `masks.xy`
//! (`masks2segments`); Ultralytics joins several regions into one polygon with thin bridges, and its
//! `strategy="largest"` keeps the region whose outline has the most points.

use crate::result::Mask;

/// The 8 neighbours, clockwise on the screen (y down) starting from the west.
const NEIGHBOURS: [(i64, i64); 8] = [(-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1)];

/// The outline of `mask`'s largest region (by pixels; the first in raster order among equals) as `(x, y)`
/// image pixel coordinates; empty for an empty mask. A region of one pixel is that one point.
pub(crate) fn polygon(mask: &Mask) -> Vec<[f32; 2]> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let Some(start) = largest_region_start(mask, w, h) else { return Vec::new() };
    let inside = |x: i64, y: i64| {
        x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h && mask.data[y as usize * w + x as usize] != 0
    };
    // Moore-neighbour tracing from the region's first pixel in raster order, whose west neighbour is outside.
    let start = ((start % w) as i64, (start / w) as i64);
    let mut points = vec![start];
    let (mut p, mut back) = (start, (start.0 - 1, start.1));
    let mut first_move = None;
    // Each boundary pixel is entered at most 4 times, from different sides.
    for _ in 0..4 * w * h + 8 {
        let from = NEIGHBOURS.iter().position(|&(dx, dy)| (p.0 + dx, p.1 + dy) == back).expect("adjacent");
        let mut next = None;
        let mut previous = back;
        for k in 1..=8 {
            let (dx, dy) = NEIGHBOURS[(from + k) % 8];
            let q = (p.0 + dx, p.1 + dy);
            if inside(q.0, q.1) {
                next = Some((q, previous));
                break;
            }
            previous = q;
        }
        let Some((q, b)) = next else { break }; // an isolated pixel
        if first_move == Some((p, q)) {
            break;
        }
        first_move.get_or_insert((p, q));
        points.push(q);
        (p, back) = (q, b);
    }
    if points.len() > 1 && points.last() == points.first() {
        points.pop();
    }
    simplify(&points)
        .into_iter()
        .map(|(x, y)| [(x + i64::from(mask.left)) as f32, (y + i64::from(mask.top)) as f32])
        .collect()
}

/// The index of the first pixel, in raster order, of the largest 8-connected region.
fn largest_region_start(mask: &Mask, w: usize, h: usize) -> Option<usize> {
    let mut label = vec![false; w * h];
    let mut stack = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    for first in 0..w * h {
        if mask.data[first] == 0 || label[first] {
            continue;
        }
        let mut size = 0;
        label[first] = true;
        stack.push(first);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in NEIGHBOURS {
                let (nx, ny) = (x + dx, y + dy);
                if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                    let j = ny as usize * w + nx as usize;
                    if mask.data[j] != 0 && !label[j] {
                        label[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if best.is_none_or(|(_, s)| size > s) {
            best = Some((first, size));
        }
    }
    best.map(|(first, _)| first)
}

/// `CHAIN_APPROX_SIMPLE`: a point is left out when the steps into it and out of it go the same way.
fn simplify(points: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let n = points.len();
    if n < 3 {
        return points.to_vec();
    }
    let step = |a: (i64, i64), b: (i64, i64)| (b.0 - a.0, b.1 - a.1);
    (0..n)
        .filter(|&i| step(points[(i + n - 1) % n], points[i]) != step(points[i], points[(i + 1) % n]))
        .map(|i| points[i])
        .collect()
}

impl Mask {
    /// The outline of the mask's largest connected region (8-connected) as `(x, y)` image pixel
    /// coordinates, traced as OpenCV's `findContours` does for Ultralytics' `masks.xy`; empty for an empty
    /// mask.
    pub fn polygon(&self) -> Vec<[f32; 2]> {
        polygon(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(left: u32, top: u32, rows: &[&str]) -> Mask {
        let width = rows[0].len() as u32;
        let data = rows.iter().flat_map(|r| r.bytes().map(|b| u8::from(b == b'#'))).collect();
        Mask { left, top, width, height: rows.len() as u32, data }
    }

    #[test]
    fn a_rectangle_is_its_four_corners() {
        let m = mask(10, 20, &["....", ".###", ".###", "...."]);
        assert_eq!(polygon(&m), [[11.0, 21.0], [13.0, 21.0], [13.0, 22.0], [11.0, 22.0]]);
    }

    #[test]
    fn diagonals_and_single_pixels() {
        let diamond = mask(0, 0, &["..#..", ".###.", "#####", ".###.", "..#.."]);
        assert_eq!(polygon(&diamond), [[2.0, 0.0], [4.0, 2.0], [2.0, 4.0], [0.0, 2.0]]);
        assert_eq!(polygon(&mask(5, 5, &["...", ".#.", "..."])), [[6.0, 6.0]]);
        assert!(polygon(&mask(0, 0, &["..", ".."])).is_empty());
        assert!(polygon(&Mask::default()).is_empty());
    }

    #[test]
    fn the_largest_region_wins_and_holes_are_ignored() {
        let m = mask(0, 0, &["#.....", "..####", "..#..#", "..####"]);
        let outline = polygon(&m);
        assert_eq!(outline, [[2.0, 1.0], [5.0, 1.0], [5.0, 3.0], [2.0, 3.0]]);
    }

    #[test]
    fn a_one_pixel_wide_line_is_traced_there_and_back() {
        let m = mask(0, 0, &["####"]);
        assert_eq!(polygon(&m), [[0.0, 0.0], [3.0, 0.0]]);
    }
}
