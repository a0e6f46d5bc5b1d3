//! Where a plot's point labels and legend go. Each label sits beside its
//! own point, clear of the other labels, the markers, the curves and the
//! legend where the plot leaves room: curves of several models at the same
//! temperatures put points close together, and a fixed offset per model
//! either stacks labels on each other or floats them far from their points.
//! The legend takes the corner with the fewest points under it.

/// A rectangle in backend pixels: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    fn contains(&self, (x, y): (i32, i32)) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }

    /// Whether the segment from `a` to `b` passes through the rectangle
    /// (checked every 2 pixels along it: labels are coarser than that).
    fn crosses(&self, a: (i32, i32), b: (i32, i32)) -> bool {
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()) / 2).max(1);
        (0..=steps).any(|i| {
            let t = i as f64 / steps as f64;
            let x = a.0 as f64 + t * (b.0 - a.0) as f64;
            let y = a.1 as f64 + t * (b.1 - a.1) as f64;
            self.contains((x.round() as i32, y.round() as i32))
        })
    }

    fn inside(&self, area: &Rect) -> bool {
        self.x >= area.x
            && self.y >= area.y
            && self.x + self.w <= area.x + area.w
            && self.y + self.h <= area.y + area.h
    }
}

/// Distances from a point to its label tried in turn: the nearest first, so
/// a label moves away from its point only as far as it must.
const RINGS: [i32; 5] = [7, 16, 28, 42, 60];

/// What labels keep clear of besides each other.
#[derive(Default)]
pub struct Obstacles {
    /// Pixels each side of a point its marker covers.
    pub marker: i32,
    /// The curves, as segments.
    pub segments: Vec<((i32, i32), (i32, i32))>,
    /// Other boxes (the legend).
    pub boxes: Vec<Rect>,
}

/// Where the label of each point goes (its top-left corner, relative to the
/// point), given each point's position and label size and the plotting
/// area. Each label takes the first place around its point, nearest ring
/// first, that overlaps no earlier label, no marker, curve or box of
/// `obstacles`, and stays in `area`; failing that, the first clear of all
/// but the curves (a label across a line is read; one under the legend is
/// not); then the first clear of labels and markers; then the first in the
/// area (or right of its point).
pub fn place(
    points: &[(i32, i32)],
    sizes: &[(i32, i32)],
    obstacles: &Obstacles,
    area: Rect,
) -> Vec<(i32, i32)> {
    let marker = obstacles.marker;
    let markers: Vec<Rect> = points
        .iter()
        .map(|&(x, y)| Rect {
            x: x - marker,
            y: y - marker,
            w: 2 * marker + 1,
            h: 2 * marker + 1,
        })
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    let mut offsets = Vec::with_capacity(points.len());
    for (&(px, py), &(w, h)) in points.iter().zip(sizes) {
        let candidates: Vec<(i32, i32)> = RINGS
            .iter()
            .flat_map(|&r| {
                [
                    (r, -h / 2),          // right
                    (r, -r - h + 4),      // above right
                    (r, r - 4),           // below right
                    (-r - w, -h / 2),     // left
                    (-w / 2, -r - h),     // above
                    (-w / 2, r),          // below
                    (-r - w, -r - h + 4), // above left
                    (-r - w, r - 4),      // below left
                ]
            })
            .collect();
        let rect = |&(dx, dy): &(i32, i32)| Rect {
            x: px + dx,
            y: py + dy,
            w,
            h,
        };
        let clear_of_labels = |r: &Rect| {
            r.inside(&area)
                && !placed.iter().any(|p| p.overlaps(r))
                && !markers.iter().any(|m| m.overlaps(r))
        };
        let clear_of_boxes =
            |r: &Rect| clear_of_labels(r) && !obstacles.boxes.iter().any(|b| b.overlaps(r));
        let clear_of_all = |r: &Rect| {
            clear_of_boxes(r) && !obstacles.segments.iter().any(|&(a, b)| r.crosses(a, b))
        };
        let chosen = candidates
            .iter()
            .find(|c| clear_of_all(&rect(c)))
            .or_else(|| candidates.iter().find(|c| clear_of_boxes(&rect(c))))
            .or_else(|| candidates.iter().find(|c| clear_of_labels(&rect(c))))
            .or_else(|| candidates.iter().find(|c| rect(c).inside(&area)))
            .copied()
            .unwrap_or(candidates[0]);
        placed.push(rect(&chosen));
        offsets.push(chosen);
    }
    offsets
}

/// The point of a label of `size` at `offset` nearest its own point (the
/// origin): where a line back to the point ends.
pub fn nearest_point(offset: (i32, i32), size: (i32, i32)) -> (i32, i32) {
    (
        0.clamp(offset.0, offset.0 + size.0),
        0.clamp(offset.1, offset.1 + size.1),
    )
}

/// Whether a label at `offset` sits far enough from its point to need a
/// line back to it.
pub fn needs_leader(offset: (i32, i32), size: (i32, i32)) -> bool {
    let (dx, dy) = offset;
    let (w, h) = size;
    // The gap between the point and the label's nearest edge.
    let gap_x = if dx > 0 { dx } else { (-(dx + w)).max(0) };
    let gap_y = if dy > 0 { dy } else { (-(dy + h)).max(0) };
    gap_x.max(gap_y) > RINGS[1]
}

/// A corner of the plotting area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
}

impl Corner {
    /// The box of `size` in this corner of `area`, `margin` pixels in.
    pub fn rect(self, area: Rect, (w, h): (i32, i32), margin: i32) -> Rect {
        let left = matches!(self, Corner::UpperLeft | Corner::LowerLeft);
        let upper = matches!(self, Corner::UpperLeft | Corner::UpperRight);
        Rect {
            x: if left {
                area.x + margin
            } else {
                area.x + area.w - margin - w
            },
            y: if upper {
                area.y + margin
            } else {
                area.y + area.h - margin - h
            },
            w,
            h,
        }
    }
}

/// The corner for a legend of `size`: the one with the fewest points under
/// it (the curves' points carry the information), lower right on a tie.
pub fn legend_corner(points: &[(i32, i32)], area: Rect, size: (i32, i32), margin: i32) -> Corner {
    [
        Corner::LowerRight,
        Corner::UpperRight,
        Corner::LowerLeft,
        Corner::UpperLeft,
    ]
    .into_iter()
    .min_by_key(|corner| {
        let rect = corner.rect(area, size, margin);
        points.iter().filter(|&&p| rect.contains(p)).count()
    })
    .expect("four corners")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: Rect = Rect {
        x: 0,
        y: 0,
        w: 800,
        h: 600,
    };
    const MARKERS: Obstacles = Obstacles {
        marker: 4,
        segments: Vec::new(),
        boxes: Vec::new(),
    };

    #[test]
    fn a_lone_label_sits_right_beside_its_point() {
        let offsets = place(&[(400, 300)], &[(40, 13)], &MARKERS, AREA);
        assert_eq!(offsets, vec![(RINGS[0], -6)]);
        assert!(!needs_leader(offsets[0], (40, 13)));
    }

    #[test]
    fn labels_of_points_that_nearly_coincide_neither_overlap_nor_cover_markers() {
        // Six models' curves through nearly the same points, as agon compare
        // draws seeds' groups at one temperature.
        let points: Vec<(i32, i32)> = (0..6)
            .flat_map(|m| (0..4).map(move |t| (300 + 40 * t + m, 300 - 30 * t + 2 * m)))
            .collect();
        let sizes = vec![(44, 13); points.len()];
        let offsets = place(&points, &sizes, &MARKERS, AREA);
        let rects: Vec<Rect> = points
            .iter()
            .zip(&offsets)
            .zip(&sizes)
            .map(|((&(x, y), &(dx, dy)), &(w, h))| Rect {
                x: x + dx,
                y: y + dy,
                w,
                h,
            })
            .collect();
        for (i, a) in rects.iter().enumerate() {
            assert!(a.inside(&AREA));
            for b in &rects[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
            for &(x, y) in &points {
                let marker = Rect {
                    x: x - 4,
                    y: y - 4,
                    w: 9,
                    h: 9,
                };
                assert!(
                    !a.overlaps(&marker),
                    "{a:?} covers the marker at ({x}, {y})"
                );
            }
        }
        // Every label stays within the farthest ring of its own point.
        for (&(dx, dy), &(w, h)) in offsets.iter().zip(&sizes) {
            assert!(dx.abs().max((dx + w).abs()) <= RINGS[4] + w);
            assert!(dy.abs().max((dy + h).abs()) <= RINGS[4] + h);
        }
    }

    #[test]
    fn a_label_at_the_plot_edge_goes_to_the_side_with_room() {
        let offsets = place(&[(795, 300)], &[(40, 13)], &MARKERS, AREA);
        assert!(offsets[0].0 < 0, "left of its point: {offsets:?}");
    }

    #[test]
    fn a_label_keeps_off_the_curve_through_its_point_and_the_legend() {
        // A curve leaving its point to the right, a legend above it: the
        // label goes where neither is.
        let obstacles = Obstacles {
            marker: 4,
            segments: vec![((400, 300), (600, 300))],
            boxes: vec![Rect {
                x: 350,
                y: 240,
                w: 100,
                h: 50,
            }],
        };
        let (dx, dy) = place(&[(400, 300)], &[(40, 13)], &obstacles, AREA)[0];
        let label = Rect {
            x: 400 + dx,
            y: 300 + dy,
            w: 40,
            h: 13,
        };
        assert!(!label.crosses((400, 300), (600, 300)), "{label:?}");
        assert!(!label.overlaps(&obstacles.boxes[0]), "{label:?}");
        assert!(
            !needs_leader((dx, dy), (40, 13)),
            "still beside its point: {label:?}"
        );
    }

    #[test]
    fn the_legend_takes_the_corner_without_points() {
        let size = (200, 60);
        // Points along the diagonal from lower left to upper right.
        let diagonal: Vec<(i32, i32)> = (0..20).map(|i| (20 + 38 * i, 580 - 28 * i)).collect();
        let corner = legend_corner(&diagonal, AREA, size, 5);
        assert!(matches!(corner, Corner::LowerRight | Corner::UpperLeft));
        // A point in the lower right moves it.
        let mut crowded = diagonal.clone();
        crowded.extend([(700, 550), (750, 560)]);
        assert_eq!(legend_corner(&crowded, AREA, size, 5), Corner::UpperLeft);
        assert_eq!(
            Corner::LowerRight.rect(AREA, size, 5),
            Rect {
                x: 595,
                y: 535,
                w: 200,
                h: 60
            }
        );
    }
}
