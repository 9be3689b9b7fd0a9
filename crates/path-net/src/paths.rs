//! Generating the paths: which neuron of every layer each path visits, and the per-layer edge
//! tables (fan-in form, sorted by target neuron) that the fan-in op consumes.
//!
//! Path `i` visits neuron `⌊n_l · x_i^(l)⌋` of layer `l`, with `x_i^(l)` a 32-bit fraction:
//! dimension `l` of Sobol' point `i`, or an independent uniform (a random walk on the dense
//! graph). With Sobol' points, widths that are powers of two and a number of paths that is a
//! multiple of them, every neuron of a layer is visited equally often (its fan-in and fan-out
//! are constant); other widths get fan-ins that differ by one at most per aligned block, and
//! [`EdgeTable`] reports the spread.
//!
//! ```
//! use path_net::{PathGenerator, generate_paths};
//! use mcnn_sequences::sobol::Randomization;
//!
//! let paths = generate_paths(&[8, 16, 4], 64, PathGenerator::Sobol(Randomization::None)).unwrap();
//! let edges = paths.edges(0); // layer 0 → layer 1
//! assert_eq!((edges.min_fan_in(), edges.max_fan_in()), (4, 4)); // 64 paths / 16 neurons
//! ```

use std::fmt;

use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::sobol::{Randomization, Sequence};

/// Where the paths' coordinates come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathGenerator {
    /// Sobol' points, dimension `l` for layer `l`, randomised as given (seeded).
    Sobol(Randomization),
    /// Independent uniform coordinates per path and layer: random walks (seeded).
    RandomWalk {
        /// Seed of the walks.
        seed: u64,
    },
}

/// A bad argument of [`generate_paths`]: the parameter, its value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// The parameter, as named in the API.
    pub parameter: &'static str,
    /// The value given.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `{}` = {}: {}",
            self.parameter, self.value, self.allowed
        )
    }
}

impl std::error::Error for PathError {}

fn error(
    parameter: &'static str,
    value: impl fmt::Display,
    allowed: impl Into<String>,
) -> PathError {
    PathError {
        parameter,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// The neurons that `P` paths visit in each of the layers `0..=L`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The layer widths `n_0 … n_L`.
    pub widths: Vec<usize>,
    /// `neurons[l][i]`: the neuron of layer `l` that path `i` visits.
    pub neurons: Vec<Vec<u32>>,
}

/// Generates `paths` paths through layers of the given `widths` (input first).
///
/// # Errors
/// [`PathError`] naming `widths` (fewer than two, a zero width, a width above `2^32`),
/// `paths` (0, or above `2^32`), or the Sobol' dimensions (more layers than the table has).
pub fn generate_paths(
    widths: &[usize],
    paths: usize,
    generator: PathGenerator,
) -> Result<Paths, PathError> {
    if widths.len() < 2 {
        return Err(error(
            "widths",
            format!("{widths:?}"),
            "at least two layers (input and output)",
        ));
    }
    if let Some(layer) = widths.iter().position(|&n| n == 0 || n as u64 > 1 << 32) {
        return Err(error(
            "widths",
            format!("{widths:?}"),
            format!(
                "every width in 1..=2^32 (layer {layer} is {})",
                widths[layer]
            ),
        ));
    }
    if paths == 0 || paths as u64 > 1 << 32 {
        return Err(error("paths", paths, "1..=2^32"));
    }
    let coordinate: Box<dyn Fn(u32, usize) -> u32> = match generator {
        PathGenerator::Sobol(randomization) => {
            let sequence = Sequence::new(widths.len())
                .map_err(|e| error("widths", format!("{} layers", widths.len()), e.to_string()))?
                .with_randomization(randomization);
            Box::new(move |i, layer| sequence.coordinate_u32(i, layer))
        }
        PathGenerator::RandomWalk { seed } => {
            let root = CounterHash::from_seed(seed);
            Box::new(move |i, layer| root.derive(layer as u32).u32_at(i))
        }
    };
    let neurons = widths
        .iter()
        .enumerate()
        .map(|(layer, &n)| {
            (0..paths as u64)
                .map(|i| ((coordinate(i as u32, layer) as u64 * n as u64) >> 32) as u32)
                .collect()
        })
        .collect();
    Ok(Paths {
        widths: widths.to_vec(),
        neurons,
    })
}

/// The edges from layer `l` to layer `l + 1` in fan-in form: for every target neuron the
/// sources of the paths through it, in path order; duplicate edges are kept (their weights
/// add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeTable {
    /// Width of the target layer.
    pub targets: usize,
    /// Width of the source layer.
    pub sources: usize,
    /// `sources_of[o]`: the source neuron of each path into target `o`.
    pub sources_of: Vec<Vec<u32>>,
}

impl EdgeTable {
    /// The smallest fan-in of a target neuron.
    pub fn min_fan_in(&self) -> usize {
        self.sources_of.iter().map(Vec::len).min().unwrap_or(0)
    }

    /// The largest fan-in of a target neuron: the `k` of the fan-in op.
    pub fn max_fan_in(&self) -> usize {
        self.sources_of.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Edges that repeat an earlier edge between the same two neurons.
    pub fn duplicates(&self) -> usize {
        self.sources_of
            .iter()
            .map(|s| {
                let mut sorted = s.clone();
                sorted.sort_unstable();
                sorted.windows(2).filter(|w| w[0] == w[1]).count()
            })
            .sum()
    }
}

impl Paths {
    /// The number of paths.
    pub fn count(&self) -> usize {
        self.neurons[0].len()
    }

    /// The edges from layer `transition` to layer `transition + 1`.
    ///
    /// # Panics
    /// If `transition + 1` is not a layer.
    pub fn edges(&self, transition: usize) -> EdgeTable {
        assert!(
            transition + 1 < self.widths.len(),
            "Paths::edges: transition {transition} of a network of {} layers",
            self.widths.len()
        );
        let (from, to) = (&self.neurons[transition], &self.neurons[transition + 1]);
        let mut sources_of = vec![Vec::new(); self.widths[transition + 1]];
        for (&source, &target) in from.iter().zip(to) {
            sources_of[target as usize].push(source);
        }
        EdgeTable {
            targets: self.widths[transition + 1],
            sources: self.widths[transition],
            sources_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOBOL: PathGenerator = PathGenerator::Sobol(Randomization::None);

    #[test]
    fn sobol_paths_give_constant_fan_in_and_fan_out_for_powers_of_two() {
        for randomization in [
            Randomization::None,
            Randomization::DigitalShift { seed: 3 },
            Randomization::Owen { seed: 5 },
        ] {
            let paths =
                generate_paths(&[8, 16, 4], 64, PathGenerator::Sobol(randomization)).unwrap();
            let first = paths.edges(0);
            assert_eq!(
                (first.min_fan_in(), first.max_fan_in()),
                (4, 4),
                "{randomization:?}"
            );
            let second = paths.edges(1);
            assert_eq!(
                (second.min_fan_in(), second.max_fan_in()),
                (16, 16),
                "{randomization:?}"
            );
            // Fan-out of layer 0: every input neuron starts 64 / 8 paths.
            let mut out = [0; 8];
            paths.neurons[0].iter().for_each(|&s| out[s as usize] += 1);
            assert_eq!(out, [8; 8]);
        }
    }

    #[test]
    fn n0_times_n1_sobol_paths_connect_two_layers_completely_once() {
        // Dimensions 0 and 1 form a (0,2)-sequence: 4 · 8 paths hit every pair once.
        let edges = generate_paths(&[4, 8], 32, SOBOL).unwrap().edges(0);
        for sources in &edges.sources_of {
            let mut s = sources.clone();
            s.sort_unstable();
            assert_eq!(s, vec![0, 1, 2, 3]);
        }
        assert_eq!(edges.duplicates(), 0);
    }

    #[test]
    fn random_walks_are_seeded_and_unbalanced() {
        let walk =
            |seed| generate_paths(&[8, 16, 4], 64, PathGenerator::RandomWalk { seed }).unwrap();
        assert_eq!(walk(1), walk(1));
        assert_ne!(walk(1), walk(2));
        let edges = walk(1).edges(0);
        assert!(edges.max_fan_in() > edges.min_fan_in(), "iid fan-ins vary");
        assert_eq!(edges.sources_of.iter().map(Vec::len).sum::<usize>(), 64);
    }

    #[test]
    fn other_widths_stay_within_one_per_block() {
        // 300 is not a power of two: 3000 paths give fan-ins of about 10, within a few.
        let edges = generate_paths(&[784, 300], 3000, SOBOL).unwrap().edges(0);
        assert_eq!(edges.sources_of.iter().map(Vec::len).sum::<usize>(), 3000);
        assert!(
            edges.min_fan_in() >= 8 && edges.max_fan_in() <= 12,
            "{} … {}",
            edges.min_fan_in(),
            edges.max_fan_in()
        );
    }

    #[test]
    fn bad_input_names_the_parameter() {
        let message = |r: Result<Paths, PathError>| r.unwrap_err().to_string();
        assert!(message(generate_paths(&[4], 8, SOBOL)).contains("at least two layers"));
        assert!(message(generate_paths(&[4, 0, 2], 8, SOBOL)).contains("layer 1 is 0"));
        assert!(message(generate_paths(&[4, 2], 0, SOBOL)).starts_with("invalid `paths` = 0"));
        let deep = vec![2; 30_000];
        assert!(
            message(generate_paths(&deep, 8, SOBOL)).starts_with("invalid `widths` = 30000 layers")
        );
    }
}
