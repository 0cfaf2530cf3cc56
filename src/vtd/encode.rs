//! The inverse of the raw decoder: turns a scenario plus decision bytes into fuzzer bytes that
//! `decode` maps back to the same scenario. Minimized reproducers and the seed corpus are
//! written through it, so every engine can replay them.
//!
//! It mirrors `Scenario::head` in scenario.rs read for read. Each `int_in_range(a..=b)` with
//! b - a < 256 reads one byte and keeps `byte % (b - a + 1)`, so the byte `value - a` decodes to
//! `value`; a range with a single value reads nothing, so nothing is written for it (this is
//! why a device byte exists only when there are two devices or more). The round-trip test
//! below fails if the decoder or arbitrary's byte consumption changes.

use super::driver::QI_MAX_BATCHED_DESC_COUNT;
use super::ops::{EnvEvent, Fault, Inv, Op};
use super::scenario::Scenario;
use crate::sim::MAX_CPUS;

/// The ring lengths the decoder can choose, in its order (`u.choose(&[8, 16, 8, 32])`).
const QLENS: [u16; 4] = [8, 16, 8, 32];

/// Bytes of the head (everything before the decisions) that decode to `sc`, or why `sc` lies
/// outside what raw inputs can express.
pub fn encode_head(sc: &Scenario) -> Result<Vec<u8>, String> {
    raw_expressible(sc)?;
    let c = &sc.config;
    let mut out = Vec::with_capacity(64);
    // ncpus in 1..=MAX_CPUS.
    out.push(sc.cpus.len() as u8 - 1);
    out.push(QLENS.iter().position(|&q| q == c.qlen).expect("checked") as u8);
    // ndevs in 1..=3.
    out.push(c.ndevs - 1);
    // any_count is `int_in_range(0..=3) == 0`.
    out.push(if c.any_count { 0 } else { 1 });
    for p in &sc.cpus {
        out.push(p.ops.len() as u8);
        for o in &p.ops {
            op(&mut out, o, c.ndevs);
        }
    }
    out.push(sc.faults.len() as u8);
    for f in &sc.faults {
        let (dev, kind) = match *f {
            Fault::Ite(d) => (d, 0),
            Fault::Iqe => (0, 2),
            Fault::Ice(d) => (d, 3),
        };
        dev_byte(&mut out, dev, c.ndevs);
        out.push(kind);
    }
    out.push(sc.env.len() as u8);
    for e in &sc.env {
        let kind = match e {
            EnvEvent::Hang(_) => 0,
            EnvEvent::Recover(_) => 1,
            EnvEvent::Remove(_) => 2,
            EnvEvent::LinkDown(_) => 3,
        };
        dev_byte(&mut out, e.dev(), c.ndevs);
        out.push(kind);
    }
    Ok(out)
}

/// Head bytes followed by `decisions`: a complete raw input.
pub fn encode(sc: &Scenario, decisions: &[u8]) -> Result<Vec<u8>, String> {
    let mut v = encode_head(sc)?;
    v.extend_from_slice(decisions);
    Ok(v)
}

pub use crate::sim::choice::pick_bytes;

fn dev_byte(out: &mut Vec<u8>, dev: u8, ndevs: u8) {
    if ndevs > 1 {
        out.push(dev);
    }
}

fn op(out: &mut Vec<u8>, o: &Op, ndevs: u8) {
    // The decoder reads a device before the kind, for every kind.
    let (dev, kind) = match o {
        Op::Flush(_) => (0, 0),
        Op::Shutdown | Op::DisableQi | Op::ReenableQi => (0, 9),
        Op::PrqDrain(d) => (*d, 6),
        Op::Teardown(d) => (*d, 7),
    };
    dev_byte(out, dev, ndevs);
    out.push(kind);
    // Kind 9 reads which machine-wide operation next.
    match o {
        Op::Shutdown => out.push(0),
        Op::DisableQi => out.push(1),
        Op::ReenableQi => out.push(2),
        _ => {}
    }
    if let Op::Flush(v) = o {
        // Counts 0..=6 are read directly; 7 means "read 7..=16 next".
        if v.len() < 7 {
            out.push(v.len() as u8);
        } else {
            out.push(7);
            out.push((v.len() - 7) as u8);
        }
        for x in v {
            let (d, k) = match *x {
                Inv::Iotlb => (0, 0),
                Inv::DevTlb(d) => (d, 1),
                Inv::Piotlb => (0, 2),
                Inv::DevTlbPasid(d) => (d, 3),
                Inv::Context => (0, 4),
                Inv::Iec => (0, 5),
            };
            dev_byte(out, d, ndevs);
            out.push(k);
        }
    }
}

/// Checks that the raw decoder can produce `sc`: it knows fewer shapes than the JSON form.
pub fn raw_expressible(sc: &Scenario) -> Result<(), String> {
    sc.validate()?;
    let c = &sc.config;
    let d = super::ops::Config::default();
    if !QLENS.contains(&c.qlen) {
        return Err(format!("qlen {} (raw inputs know 8, 16, 32)", c.qlen));
    }
    if c.ndevs > 3 {
        return Err(format!("{} devices (raw inputs know 1..=3)", c.ndevs));
    }
    if c.ats_timeout_ms != d.ats_timeout_ms || c.stale_waits != d.stale_waits {
        return Err("ats_timeout_ms or stale_waits differ from the defaults".into());
    }
    if sc.cpus.len() > MAX_CPUS {
        return Err(format!("{} CPUs", sc.cpus.len()));
    }
    if let Some(p) = sc.cpus.iter().find(|p| p.ops.len() > 3) {
        return Err(format!(
            "{} operations on one CPU (raw: 0..=3)",
            p.ops.len()
        ));
    }
    if sc.faults.len() > 3 || sc.env.len() > 2 {
        return Err("more than 3 faults or 2 env events (raw limits)".into());
    }
    let cap = QI_MAX_BATCHED_DESC_COUNT.min(c.qlen as usize - 2);
    for p in &sc.cpus {
        for o in &p.ops {
            if let Op::Flush(v) = o {
                if v.len() > cap {
                    return Err(format!("a flush of {} descriptors (cap {cap})", v.len()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtd::scenario::decode;
    use rand::rngs::StdRng;
    use rand::{Rng, RngExt, SeedableRng};

    #[test]
    fn decode_of_encode_is_identity_on_random_inputs() {
        // Every decoded scenario is expressible, so encoding it and decoding again must give
        // it back.
        let mut rng = StdRng::seed_from_u64(7);
        let mut buf = [0u8; 200];
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..20_000 {
            let len = rng.random_range(0..=buf.len());
            rng.fill_bytes(&mut buf[..len]);
            let sc = decode(&buf[..len]);
            let raw = encode(&sc, &sc.decisions).expect("decoded scenarios are expressible");
            let back = decode(&raw);
            assert_eq!(back, sc, "input {:02x?}", &buf[..len]);
            for p in &sc.cpus {
                for o in &p.ops {
                    kinds.insert(format!("{o:?}").chars().take(5).collect::<String>());
                }
            }
        }
        // The sample reached every operation kind, so each branch of `op` was checked.
        assert_eq!(kinds.len(), 6, "{kinds:?}");
    }

    #[test]
    fn shapes_the_decoder_cannot_make_are_refused() {
        let mut sc = decode(&[0, 1, 0, 1, 1, 0, 1, 2, 0, 0]);
        sc.config.qlen = 64;
        assert!(encode_head(&sc).unwrap_err().contains("qlen"));
        sc.config.qlen = 16;
        sc.config.ats_timeout_ms = 5;
        assert!(encode_head(&sc).is_err());
        assert_eq!(pick_bytes(&[0, 3, 255]).unwrap(), vec![0, 3, 255]);
        assert!(pick_bytes(&[256]).is_err());
    }
}
