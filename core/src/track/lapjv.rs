//! Linear assignment as the `lap` package's `lapjv(cost, extend_cost=True, cost_limit=limit)` solves it,
//! which Ultralytics' trackers call: the Jonker-Volgenant algorithm (column reduction with reduction
//! transfer, two rounds of augmenting row reduction, then augmentation along shortest paths) on the cost
//! matrix extended to a square of side rows + columns, in which leaving a row or a column unassigned costs
//! half the limit. Where several assignments cost the same, the one returned is the one this sequence of
//! steps reaches, so the steps and their tie-breaking follow the algorithm as `lap` implements it; a
//! different optimal solver (a Hungarian method, SciPy's) can pair equal-cost rows differently.

// Matrix algorithms read best with their indices.
#![allow(clippy::needless_range_loop)]

/// The "infinite" starting value of the algorithm's minima (costs are far below it).
const LARGE: f64 = 1_000_000.0;

/// The assignment of a `rows` x `cols` cost matrix (row-major) under `limit`: `(matches, unmatched rows,
/// unmatched columns)`, matches in row order.
pub fn assign(cost: &[f64], rows: usize, cols: usize, limit: f64) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    if rows == 0 || cols == 0 {
        return (Vec::new(), (0..rows).collect(), (0..cols).collect());
    }
    let n = rows + cols;
    // The extended matrix, read through a function rather than built (it has (rows + cols)^2 entries).
    let half = limit / 2.0;
    let extended = |i: usize, j: usize| match (i < rows, j < cols) {
        (true, true) => cost[i * cols + j],
        (false, false) => 0.0,
        _ => half,
    };
    let (x, y) = solve(&extended, n);
    let mut matches = Vec::new();
    let mut unmatched_rows = Vec::new();
    for (i, &j) in x.iter().enumerate().take(rows) {
        if (j as usize) < cols {
            matches.push((i, j as usize));
        } else {
            unmatched_rows.push(i);
        }
    }
    let unmatched_cols = (0..cols).filter(|&j| y[j] as usize >= rows).collect();
    (matches, unmatched_rows, unmatched_cols)
}

/// The square problem of side `n` with costs `c`: per row its column, per column its row.
fn solve(c: &impl Fn(usize, usize) -> f64, n: usize) -> (Vec<i64>, Vec<i64>) {
    let mut x = vec![-1i64; n];
    let mut y = vec![0i64; n];
    let mut v = vec![LARGE; n];
    // Column reduction: each column's cheapest row (the first of equals, scanning rows in order).
    for i in 0..n {
        for j in 0..n {
            if c(i, j) < v[j] {
                v[j] = c(i, j);
                y[j] = i as i64;
            }
        }
    }
    // A row that is the cheapest of several columns keeps the last of them (columns scanned from the end).
    let mut unique = vec![true; n];
    for j in (0..n).rev() {
        let i = y[j] as usize;
        if x[i] < 0 {
            x[i] = j as i64;
        } else {
            unique[i] = false;
            y[j] = -1;
        }
    }
    // Reduction transfer from rows assigned once; the others are free.
    let mut free = Vec::with_capacity(n);
    for i in 0..n {
        if x[i] < 0 {
            free.push(i);
        } else if unique[i] {
            let j = x[i] as usize;
            let mut least = LARGE;
            for j2 in (0..n).filter(|&j2| j2 != j) {
                let reduced = c(i, j2) - v[j2];
                if reduced < least {
                    least = reduced;
                }
            }
            v[j] -= least;
        }
    }
    for _ in 0..2 {
        if free.is_empty() {
            break;
        }
        free = augmenting_row_reduction(c, n, free, &mut x, &mut y, &mut v);
    }
    for &start in &free {
        augment(c, n, start, &mut x, &mut y, &mut v);
    }
    (x, y)
}

/// One round of augmenting row reduction over the free rows; returns the rows left free.
fn augmenting_row_reduction(
    c: &impl Fn(usize, usize) -> f64,
    n: usize,
    mut free: Vec<usize>,
    x: &mut [i64],
    y: &mut [i64],
    v: &mut [f64],
) -> Vec<usize> {
    let count = free.len();
    let mut current = 0usize;
    let mut kept = 0usize;
    let mut steps = 0usize;
    while current < count {
        steps += 1;
        let row = free[current];
        current += 1;
        // The two smallest reduced costs of the row (the first of equals for the smallest).
        let (mut j1, mut u1) = (0usize, c(row, 0) - v[0]);
        let (mut j2, mut u2) = (None, LARGE);
        for j in 1..n {
            let reduced = c(row, j) - v[j];
            if reduced < u2 {
                if reduced >= u1 {
                    u2 = reduced;
                    j2 = Some(j);
                } else {
                    u2 = u1;
                    u1 = reduced;
                    j2 = Some(j1);
                    j1 = j;
                }
            }
        }
        let mut displaced = y[j1];
        let lowered = v[j1] - (u2 - u1);
        let lowers = lowered < v[j1];
        if steps < current * n {
            if lowers {
                v[j1] = lowered;
            } else if let (true, Some(second)) = (displaced >= 0, j2) {
                j1 = second;
                displaced = y[second];
            }
            if displaced >= 0 {
                if lowers {
                    current -= 1;
                    free[current] = displaced as usize;
                } else {
                    free[kept] = displaced as usize;
                    kept += 1;
                }
            }
        } else if displaced >= 0 {
            free[kept] = displaced as usize;
            kept += 1;
        }
        x[row] = j1 as i64;
        y[j1] = row as i64;
    }
    free.truncate(kept);
    free
}

/// Assigns the free row `start` along a shortest augmenting path (Dijkstra over reduced costs), updating
/// the column prices of the columns settled on the way.
fn augment(c: &impl Fn(usize, usize) -> f64, n: usize, start: usize, x: &mut [i64], y: &mut [i64], v: &mut [f64]) {
    let mut cols: Vec<usize> = (0..n).collect();
    let mut pred = vec![start; n];
    let mut d: Vec<f64> = (0..n).map(|j| c(start, j) - v[j]).collect();
    let (mut lo, mut hi, mut ready) = (0usize, 0usize, 0usize);
    let mut end = None;
    while end.is_none() {
        if lo == hi {
            // The columns at the smallest distance move to the front of the unsettled ones.
            ready = lo;
            hi = lo + 1;
            let mut least = d[cols[lo]];
            for k in lo + 1..n {
                let j = cols[k];
                if d[j] <= least {
                    if d[j] < least {
                        hi = lo;
                        least = d[j];
                    }
                    cols[k] = cols[hi];
                    cols[hi] = j;
                    hi += 1;
                }
            }
            for &j in &cols[lo..hi] {
                if y[j] < 0 {
                    end = Some(j);
                }
            }
        }
        if end.is_none() {
            end = scan(c, n, &mut lo, &mut hi, &mut d, &mut cols, &mut pred, y, v);
        }
    }
    let least = d[cols[lo]];
    for &j in &cols[..ready] {
        v[j] += d[j] - least;
    }
    // Flip the path's assignments back to the start.
    let mut j = end.expect("a path ends at a free column");
    loop {
        let i = pred[j];
        y[j] = i as i64;
        let previous = x[i];
        x[i] = j as i64;
        if i == start {
            break;
        }
        j = previous as usize;
    }
}

/// Scans the columns at the current smallest distance, lowering the distances of the unsettled columns
/// through their rows; returns a free column reached at that same distance, if any. The scan's progress
/// (`lo`, `hi`) is kept only when it finds none: the prices are then updated from where it started.
#[allow(clippy::too_many_arguments)]
fn scan(
    c: &impl Fn(usize, usize) -> f64,
    n: usize,
    scan_lo: &mut usize,
    scan_hi: &mut usize,
    d: &mut [f64],
    cols: &mut [usize],
    pred: &mut [usize],
    y: &[i64],
    v: &[f64],
) -> Option<usize> {
    let (mut lo, mut hi) = (*scan_lo, *scan_hi);
    while lo != hi {
        let j = cols[lo];
        lo += 1;
        let i = y[j] as usize;
        let least = d[j];
        let h = c(i, j) - v[j] - least;
        // The columns from `hi` on, as they were when this row's scan began (`hi` grows during it).
        let unsettled = hi;
        for k in unsettled..n {
            let j = cols[k];
            let reduced = c(i, j) - v[j] - h;
            if reduced < d[j] {
                d[j] = reduced;
                pred[j] = i;
                if reduced == least {
                    if y[j] < 0 {
                        return Some(j);
                    }
                    cols[k] = cols[hi];
                    cols[hi] = j;
                    hi += 1;
                }
            }
        }
    }
    (*scan_lo, *scan_hi) = (lo, hi);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least cost of the extended problem, by trying every assignment: a match costs its cost, an
    /// unmatched row or column half the limit.
    fn best_cost(cost: &[f64], rows: usize, cols: usize, limit: f64) -> f64 {
        fn search(i: usize, rows: usize, cols: usize, used: &mut Vec<bool>, cost: &[f64], limit: f64) -> f64 {
            if i == rows {
                return used.iter().filter(|u| !**u).count() as f64 * limit / 2.0;
            }
            let mut best = limit / 2.0 + search(i + 1, rows, cols, used, cost, limit);
            for j in 0..cols {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[i * cols + j] + search(i + 1, rows, cols, used, cost, limit));
                    used[j] = false;
                }
            }
            best
        }
        search(0, rows, cols, &mut vec![false; cols], cost, limit)
    }

    #[test]
    fn assignments_are_optimal_under_the_limit() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..400 {
            let (rows, cols) = (1 + (next() % 6) as usize, 1 + (next() % 6) as usize);
            // Costs on a coarse grid half the time, so that ties are common.
            let cost: Vec<f64> = (0..rows * cols)
                .map(|_| if case % 2 == 0 { (next() % 5) as f64 * 0.25 } else { (next() % 1000) as f64 / 1000.0 })
                .collect();
            let limit = 0.8;
            let (matches, unmatched_rows, unmatched_cols) = assign(&cost, rows, cols, limit);
            let total = matches.iter().map(|&(i, j)| cost[i * cols + j]).sum::<f64>()
                + (unmatched_rows.len() + unmatched_cols.len()) as f64 * limit / 2.0;
            assert!((total - best_cost(&cost, rows, cols, limit)).abs() < 1e-9, "case {case}: {cost:?}");
            assert_eq!(matches.len() + unmatched_rows.len(), rows);
            assert_eq!(matches.len() + unmatched_cols.len(), cols);
        }
    }
}
