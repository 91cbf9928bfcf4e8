use super::*;
use Truth::{Ignored, Negative as N, Positive as P};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn confusion_rates() {
    // 3 positives, 5 benign: flag 2 positives and 1 benign.
    let mut c = Confusion::default();
    for (pos, flag) in [(true, true), (true, true), (true, false)] {
        c.add(pos, flag);
    }
    for flag in [true, false, false, false, false] {
        c.add(false, flag);
    }
    assert_eq!(
        c,
        Confusion {
            tp: 2,
            fp: 1,
            fn_: 1,
            tn: 4
        }
    );
    close(c.precision().unwrap(), 2.0 / 3.0);
    close(c.recall().unwrap(), 2.0 / 3.0);
    close(c.fpr().unwrap(), 0.2);
    close(c.f1().unwrap(), 2.0 / 3.0);
    assert_eq!(Confusion::default().precision(), None);
    let none_found = Confusion {
        tp: 0,
        fp: 1,
        fn_: 1,
        tn: 0,
    };
    assert_eq!(none_found.f1(), Some(0.0));
    let json = serde_json::to_value(c).unwrap();
    assert_eq!(json["fn"], 1);
    assert_eq!(json["fpr"], 0.2);
}

#[test]
fn auc_perfect_random_inverted() {
    let perfect = [(0.9, P), (0.8, P), (0.3, N), (0.1, N)];
    let inverted = [(0.1, P), (0.2, P), (0.8, N), (0.9, N)];
    let random = [(0.5, P), (0.5, N), (0.5, P), (0.5, N)];
    close(curves(&perfect).auc.unwrap(), 1.0);
    close(curves(&inverted).auc.unwrap(), 0.0);
    close(curves(&random).auc.unwrap(), 0.5);
    close(curves(&perfect).average_precision.unwrap(), 1.0);
    close(curves(&random).average_precision.unwrap(), 0.5);
}

#[test]
fn ties_count_half() {
    // P at 0.9; a P/N tie at 0.5; N at 0.1. Pairs (P,N): 4, correctly ordered 3,
    // one tie counts half: AUC = 3.5 / 4.
    let s = [(0.9, P), (0.5, P), (0.5, N), (0.1, N)];
    let c = curves(&s);
    close(c.auc.unwrap(), 0.875);
    let pts: Vec<_> = c.roc.iter().map(|p| (p.fpr, p.tpr)).collect();
    assert_eq!(pts, [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
    // AP: recall 0.5 at precision 1, then recall 1 at precision 2/3.
    close(c.average_precision.unwrap(), 0.5 + 0.5 * 2.0 / 3.0);
    assert_eq!(c.pr.len(), 3);
}

#[test]
fn nan_and_ignored_left_out() {
    let s = [(0.9, P), (f64::NAN, N), (0.95, Ignored), (0.2, N)];
    let c = curves(&s);
    close(c.auc.unwrap(), 1.0);
    let (conf, flagged) = at_threshold(&s, 0.5);
    assert_eq!(
        conf,
        Confusion {
            tp: 1,
            fp: 0,
            fn_: 0,
            tn: 1
        }
    );
    assert_eq!(flagged, 2);
}

#[test]
fn no_negatives_or_positives() {
    assert_eq!(curves(&[(0.4, P)]).auc, None);
    assert!(curves(&[(0.4, P)]).average_precision.is_some());
    assert_eq!(curves(&[(0.4, N)]).average_precision, None);
    assert_eq!(lowest_threshold_for_fpr(&[(0.4, N)], 0.01), None);
}

#[test]
fn sweep_includes_policy_threshold() {
    let s = [(0.9, P), (0.42, P), (0.3, N)];
    let rows = sweep(&s, Some(0.42));
    assert_eq!(rows.len(), 20);
    let p: Vec<_> = rows.iter().filter(|r| r.policy).collect();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].threshold, 0.42);
    assert_eq!(
        p[0].confusion,
        Confusion {
            tp: 2,
            fp: 0,
            fn_: 0,
            tn: 1
        }
    );
    assert!(rows.windows(2).all(|w| w[0].threshold < w[1].threshold));
    assert_eq!(rows[2].threshold, 0.15);
    // A policy threshold on the grid is marked, not duplicated.
    let rows = sweep(&s, Some(0.5));
    assert_eq!(rows.len(), 19);
    assert!(rows[9].policy && rows[9].threshold == 0.5);
    assert_eq!(sweep(&s, None).iter().filter(|r| r.policy).count(), 0);
}

#[test]
fn fpr_suggestion() {
    // 200 benign scores 0.000..0.995, 2 positives at 0.993 and 0.999. At 1%, 2
    // benign rows may be flagged: 0.99 and 0.995, so the lowest threshold is 0.99.
    let mut s: Vec<(f64, Truth)> = (0..200).map(|i| (f64::from(i) / 200.0, N)).collect();
    s.push((0.999, P));
    s.push((0.993, P));
    let g = lowest_threshold_for_fpr(&s, 0.01).unwrap();
    assert_eq!(g.allowed_fp, 2);
    close(g.threshold, 0.99);
    assert_eq!(
        g.confusion,
        Confusion {
            tp: 2,
            fp: 2,
            fn_: 0,
            tn: 198
        }
    );
    // At 0.1% none may be flagged: the threshold sits above every benign score.
    let g = lowest_threshold_for_fpr(&s, 0.001).unwrap();
    assert_eq!((g.allowed_fp, g.threshold), (0, 0.999));
    assert_eq!(g.confusion.tp, 1);
    // When the top score is benign, no threshold flags anything within 0.1%.
    s.push((1.0, N));
    assert_eq!(lowest_threshold_for_fpr(&s, 0.001), None);
}
