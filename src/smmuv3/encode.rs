//! The inverse of the SMMUv3 raw decoder: turns a scenario plus decision bytes into fuzzer bytes
//! that `decode` maps back to the same scenario. Minimized SMMUv3 reproducers and the `smmuv3`
//! seed corpus are written through it, so every engine can replay them.
//!
//! It mirrors `Scenario::head` in scenario.rs read for read. Each `int_in_range(a..=b)` with
//! b - a < 256 reads one byte and keeps `byte % (b - a + 1)`, so the byte `value - a` decodes
//! to `value`; `choose(list)` reads the index of the value; a `bool` is the low bit of a byte; a
//! range with a single value reads nothing, so a device byte exists only when there are two
//! clients or more. The round-trip test below fails if the decoder or arbitrary's byte
//! consumption changes.

use super::ops::{Client, EnvEvent, Fault, Op};
use super::scenario::{Scenario, EXIT_BUFS_MAX, EXIT_DELAYS, SHUTDOWN_UNMAPS_MAX};
use crate::sim::MAX_CPUS;

/// `qshift` choices of the decoder, in its order.
const QSHIFTS: [u8; 4] = [7, 7, 8, 7];
/// `atc_timeout_ms` choices.
const ATC_TIMEOUTS: [u32; 3] = [500, 50, 2000];
/// `grace_ms` choices.
const GRACES: [u32; 2] = [1000, 100];
/// Most clients a raw input can list.
const RAW_CLIENTS: usize = 3;

fn index<T: PartialEq>(list: &[T], x: &T) -> u8 {
    list.iter().position(|y| y == x).expect("checked") as u8
}

/// Bytes of the head (everything before the decisions) that decode to `sc`, or why `sc` lies
/// outside what raw inputs can express.
pub fn encode_head(sc: &Scenario) -> Result<Vec<u8>, String> {
    raw_expressible(sc)?;
    let c = &sc.config;
    let nd = c.clients.len() as u8;
    let mut out = Vec::with_capacity(64);
    // ncpus in 1..=MAX_CPUS, clients in 1..=3.
    out.push(sc.cpus.len() as u8 - 1);
    out.push(nd - 1);
    for cl in &c.clients {
        client(&mut out, cl);
    }
    out.push(index(&QSHIFTS, &c.qshift));
    // msipoll is `int_in_range(0..=3) != 0`.
    out.push(u8::from(c.msipoll));
    out.push(u8::from(c.range_inv));
    out.push(index(&ATC_TIMEOUTS, &c.atc_timeout_ms));
    out.push(index(&GRACES, &c.grace_ms));
    for p in &sc.cpus {
        out.push(p.ops.len() as u8);
        for o in &p.ops {
            op(&mut out, o, nd);
        }
    }
    out.push(sc.faults.len() as u8);
    for f in &sc.faults {
        let (dev, kind) = match *f {
            Fault::Ill => (0, 0),
            Fault::Abt => (0, 1),
            Fault::Sfm => (0, 2),
            Fault::MsiAbort => (0, 3),
            Fault::Wedge => (0, 4),
            Fault::AtcTimeout(d) => (d, 5),
        };
        dev_byte(&mut out, dev, nd);
        out.push(kind);
    }
    out.push(sc.env.len() as u8);
    for e in &sc.env {
        dev_byte(&mut out, e.dev(), nd);
        out.push(u8::from(matches!(e, EnvEvent::Hang(_))));
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

fn client(out: &mut Vec<u8>, c: &Client) {
    out.push(u8::from(c.ats));
    out.push(u8::from(c.sva));
    out.push(c.shutdown_unmaps);
    // early is `int_in_range(0..=3) == 0`.
    out.push(if c.early { 0 } else { 1 });
}

fn dev_byte(out: &mut Vec<u8>, dev: u8, nd: u8) {
    if nd > 1 {
        out.push(dev);
    }
}

fn op(out: &mut Vec<u8>, o: &Op, nd: u8) {
    // The decoder reads a device before the kind, for every kind.
    match *o {
        Op::Unmap { dev, pages } => {
            dev_byte(out, dev, nd);
            out.push(0);
            // "big" is `int_in_range(0..=7) == 0`: 9..=130 pages, else 1..=8.
            if pages >= 9 {
                out.extend([0, pages - 9]);
            } else {
                out.extend([1, pages - 1]);
            }
        }
        Op::SvaInvalidate { pages } => {
            dev_byte(out, 0, nd);
            out.extend([4, pages - 1]);
        }
        Op::MmRelease => {
            dev_byte(out, 0, nd);
            out.push(6);
        }
        Op::Reboot => {
            dev_byte(out, 0, nd);
            out.push(7);
        }
        Op::Exit {
            delay_ms,
            bufs,
            pages,
            dev,
        } => {
            dev_byte(out, dev, nd);
            // 9 is an exit whether or not a reboot was read before (7 and 8 are not).
            out.extend([9, index(&EXIT_DELAYS, &delay_ms), bufs - 1, pages - 1]);
        }
    }
}

/// Checks that the raw decoder can produce `sc`: it knows fewer shapes than the JSON form.
pub fn raw_expressible(sc: &Scenario) -> Result<(), String> {
    sc.validate()?;
    let c = &sc.config;
    if c.clients.len() > RAW_CLIENTS {
        return Err(format!(
            "{} clients (raw inputs know 1..={RAW_CLIENTS})",
            c.clients.len()
        ));
    }
    if c.clients
        .iter()
        .any(|x| x.shutdown_unmaps > SHUTDOWN_UNMAPS_MAX)
    {
        return Err(format!(
            "a client's shutdown_unmaps above {SHUTDOWN_UNMAPS_MAX} (raw inputs know 0..={SHUTDOWN_UNMAPS_MAX})"
        ));
    }
    if !ATC_TIMEOUTS.contains(&c.atc_timeout_ms) || !GRACES.contains(&c.grace_ms) {
        return Err(format!(
            "atc_timeout_ms {} or grace_ms {} (raw inputs know {ATC_TIMEOUTS:?} and {GRACES:?})",
            c.atc_timeout_ms, c.grace_ms
        ));
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
    for o in sc.cpus.iter().flat_map(|p| &p.ops) {
        let ok = match *o {
            Op::Unmap { pages, .. } => (1..=130).contains(&pages),
            Op::SvaInvalidate { pages } => (1..=40).contains(&pages),
            Op::MmRelease | Op::Reboot => true,
            Op::Exit {
                delay_ms,
                bufs,
                pages,
                ..
            } => {
                EXIT_DELAYS.contains(&delay_ms)
                    && (1..=EXIT_BUFS_MAX).contains(&bufs)
                    && (1..=4).contains(&pages)
            }
        };
        if !ok {
            return Err(format!("operation {o:?} is outside the raw ranges"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smmuv3::scenario::decode;
    use rand::rngs::StdRng;
    use rand::{Rng, RngExt, SeedableRng};
    use std::collections::BTreeSet;

    #[test]
    fn decode_of_encode_is_identity_on_random_inputs() {
        // Every decoded scenario is expressible, so encoding it and decoding again must give
        // it back, and the bytes must be the input's own wherever the input was canonical.
        let mut rng = StdRng::seed_from_u64(11);
        let mut buf = [0u8; 160];
        let mut kinds = BTreeSet::new();
        for _ in 0..30_000 {
            let len = rng.random_range(0..=buf.len());
            rng.fill_bytes(&mut buf[..len]);
            // Small bytes make short, in-range heads likelier (more clients, faults, events).
            if rng.random_range(0..2) == 0 {
                for b in &mut buf[..len.min(40)] {
                    *b %= 4;
                }
            }
            let sc = decode(&buf[..len]);
            let raw = encode(&sc, &sc.decisions).expect("decoded scenarios are expressible");
            let back = decode(&raw);
            assert_eq!(back, sc, "input {:02x?}", &buf[..len]);
            assert_eq!(encode(&back, &back.decisions).unwrap(), raw);
            for o in sc.cpus.iter().flat_map(|p| &p.ops) {
                let s = format!("{o:?}");
                let big = matches!(o, Op::Unmap { pages, .. } if *pages > 8);
                kinds.insert(format!("{}{}", s.split([' ', '{']).next().unwrap(), big));
            }
            for f in &sc.faults {
                kinds.insert(format!("{f:?}").split('(').next().unwrap().to_string());
            }
            for e in &sc.env {
                kinds.insert(format!("{e:?}").split('(').next().unwrap().to_string());
            }
            kinds.insert(format!("clients{}", sc.config.clients.len()));
        }
        // The sample reached every operation (small and big unmaps), fault and event kind and
        // every client count, so each branch of the encoder was checked.
        let want = [
            "Unmapfalse",
            "Unmaptrue",
            "SvaInvalidatefalse",
            "MmReleasefalse",
            "Rebootfalse",
            "Exitfalse",
            "Ill",
            "Abt",
            "Sfm",
            "MsiAbort",
            "Wedge",
            "AtcTimeout",
            "Hang",
            "Recover",
            "clients1",
            "clients2",
            "clients3",
        ];
        for w in want {
            assert!(kinds.contains(w), "sample never decoded {w}: {kinds:?}");
        }
    }

    #[test]
    fn shapes_the_decoder_cannot_make_are_refused() {
        let mut sc = decode(&[0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert!(encode_head(&sc).is_ok());
        sc.config.atc_timeout_ms = 7;
        assert!(encode_head(&sc).unwrap_err().contains("atc_timeout_ms"));
        sc.config.atc_timeout_ms = 50;
        sc.config.clients = vec![Client::default(); 4];
        assert!(encode_head(&sc).unwrap_err().contains("clients"));
        sc.config.clients.truncate(1);
        sc.cpus[0].ops = vec![Op::SvaInvalidate { pages: 41 }];
        assert!(encode_head(&sc).unwrap_err().contains("raw ranges"));
        sc.cpus[0].ops = vec![Op::MmRelease; 4];
        assert!(encode_head(&sc).is_err());
        assert_eq!(pick_bytes(&[0, 3, 255]).unwrap(), vec![0, 3, 255]);
        assert!(pick_bytes(&[256]).is_err());
    }
}
