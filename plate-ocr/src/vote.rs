//! One answer from several reads of the same vehicle: the slot distributions of every read,
//! weighted by how sure each read was, are averaged, and the grammar-constrained search runs
//! on the average. A character misread in one frame is outvoted by the others, and the result
//! is still a valid plate.

/// The weighted average of per-slot distributions (`reads`: slots and weight). Reads with a
/// different number of slots than the first are ignored; `None` when nothing is left.
pub fn average(reads: &[(&[Vec<f32>], f32)]) -> Option<Vec<Vec<f32>>> {
    let (first, _) = reads.first()?;
    let shape: Vec<usize> = first.iter().map(Vec::len).collect();
    let mut acc: Vec<Vec<f32>> = shape.iter().map(|&n| vec![0.0; n]).collect();
    let mut total = 0.0;
    for (slots, w) in reads {
        let fits =
            slots.len() == shape.len() && slots.iter().zip(&shape).all(|(s, n)| s.len() == *n);
        if !fits || !w.is_finite() || *w <= 0.0 {
            continue;
        }
        for (a, s) in acc.iter_mut().zip(slots.iter()) {
            for (x, p) in a.iter_mut().zip(s) {
                *x += w * p;
            }
        }
        total += w;
    }
    if total <= 0.0 {
        return None;
    }
    for a in &mut acc {
        for x in a.iter_mut() {
            *x /= total;
        }
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::candidates;

    const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ";

    fn slots_for(text: &str, p: f32) -> Vec<Vec<f32>> {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let mut chars = text.chars();
        (0..10)
            .map(|_| {
                let mut s = vec![(1.0 - p) / 37.0; 38];
                let i = chars.next().map_or(0, |c| {
                    1 + alphabet.iter().position(|a| *a == c).expect("in alphabet")
                });
                s[i] = p;
                s
            })
            .collect()
    }

    #[test]
    fn a_misread_frame_is_outvoted() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let good = slots_for("51F12345", 0.9);
        let bad = slots_for("51F12845", 0.95);
        let reads = [
            (good.as_slice(), 0.8),
            (bad.as_slice(), 0.9),
            (good.as_slice(), 0.7),
        ];
        let avg = average(&reads).expect("reads");
        assert_eq!(
            candidates(&avg, &alphabet, Default::default(), 1)[0].text,
            "51F12345"
        );
    }

    #[test]
    fn nothing_to_vote_on() {
        assert!(average(&[]).is_none());
        let s = slots_for("51F12345", 0.9);
        assert!(average(&[(s.as_slice(), 0.0)]).is_none());
    }
}
