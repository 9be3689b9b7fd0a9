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
//!
//! let paths = generate_paths(&[8, 16, 4], 64, PathGenerator::Sobol).unwrap();
//! let edges = paths.edges(0); // layer 0 → layer 1
//! assert_eq!((edges.min_fan_in(), edges.max_fan_in()), (4, 4)); // 64 paths / 16 neurons
//! ```

use std::fmt;

use burn::config::Config;
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::sobol::{Randomization, Sequence};

use crate::PathError;

/// Where the paths' coordinates come from.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PathGenerator {
    /// The plain Sobol' points (Joe–Kuo), dimension `l` for layer `l`: deterministic (the
    /// default of [`PathNetConfig`](crate::PathNetConfig)).
    Sobol,
    /// Sobol' points with a seeded digital shift (`x ⊕ u_l`): keeps the balance of the plain
    /// points, moves which neurons meet.
    SobolShifted {
        /// Seed of the shifts.
        seed: u64,
    },
    /// Sobol' points with Owen's nested scrambling (seeded): keeps the balance too.
    SobolScrambled {
        /// Seed of the scramble.
        seed: u64,
    },
    /// Independent uniform coordinates per path and layer: random walks (seeded).
    RandomWalk {
        /// Seed of the walks.
        seed: u64,
    },
}

/// A source of 32-bit coordinates `x_i^(d)`: path `i`, dimension `d`.
pub(crate) enum Coordinates {
    Sobol(Sequence),
    Random(CounterHash),
}

impl Coordinates {
    /// The coordinates of `generator` in `dimensions` dimensions.
    pub(crate) fn new(generator: PathGenerator, dimensions: usize) -> Result<Self, PathError> {
        let randomization = match generator {
            PathGenerator::Sobol => Randomization::None,
            PathGenerator::SobolShifted { seed } => Randomization::DigitalShift { seed },
            PathGenerator::SobolScrambled { seed } => Randomization::Owen { seed },
            PathGenerator::RandomWalk { seed } => {
                return Ok(Self::Random(CounterHash::from_seed(seed)));
            }
        };
        let sequence = Sequence::new(dimensions).map_err(|e| {
            PathError::new(
                "widths",
                format!("{} layers", dimensions.div_ceil(2)),
                format!("a Sobol' generator needs 2 dimensions per layer: {e}"),
            )
        })?;
        Ok(Self::Sobol(sequence.with_randomization(randomization)))
    }

    pub(crate) fn at(&self, path: u32, dimension: usize) -> u32 {
        match self {
            Self::Sobol(sequence) => sequence.coordinate_u32(path, dimension),
            Self::Random(root) => root.derive(dimension as u32).u32_at(path),
        }
    }
}

/// `⌊n · x⌋` for a 32-bit fraction `x`.
pub(crate) fn scale(x: u32, n: usize) -> u32 {
    ((x as u64 * n as u64) >> 32) as u32
}

/// The neurons that `P` paths visit in each of the layers `0..=L`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The layer widths `n_0 … n_L`.
    pub widths: Vec<usize>,
    /// `neurons[l][i]`: the neuron of layer `l` that path `i` visits.
    pub neurons: Vec<Vec<u32>>,
    /// The generator of the coordinates; it also gives the edges' signs ([`Paths::signs`]).
    pub generator: PathGenerator,
}

/// Checks the widths and the number of paths shared by every way of generating paths.
pub(crate) fn check_shape(widths: &[usize], paths: usize) -> Result<(), PathError> {
    if widths.len() < 2 {
        return Err(PathError::new(
            "widths",
            format!("{widths:?}"),
            "at least two layers (input and output)",
        ));
    }
    if let Some(layer) = widths.iter().position(|&n| n == 0 || n as u64 > 1 << 32) {
        return Err(PathError::new(
            "widths",
            format!("{widths:?}"),
            format!(
                "every width in 1..=2^32 (layer {layer} is {})",
                widths[layer]
            ),
        ));
    }
    if paths == 0 || paths as u64 > 1 << 32 {
        return Err(PathError::new("paths", paths, "1..=2^32"));
    }
    Ok(())
}

/// The number of coordinate dimensions for `layers` layers: one per layer for the neurons,
/// one per transition for the signs.
pub(crate) fn dimensions(layers: usize) -> usize {
    2 * layers - 1
}

/// Generates `paths` paths through layers of the given `widths` (input first).
///
/// # Errors
/// [`PathError`] naming `widths` (fewer than two, a zero width, a width above `2^32`, more
/// layers than the Sobol' table serves) or `paths` (0, or above `2^32`).
pub fn generate_paths(
    widths: &[usize],
    paths: usize,
    generator: PathGenerator,
) -> Result<Paths, PathError> {
    check_shape(widths, paths)?;
    let coordinates = Coordinates::new(generator, dimensions(widths.len()))?;
    let neurons = widths
        .iter()
        .enumerate()
        .map(|(layer, &n)| {
            (0..paths as u64)
                .map(|i| scale(coordinates.at(i as u32, layer), n))
                .collect()
        })
        .collect();
    Ok(Paths {
        widths: widths.to_vec(),
        neurons,
        generator,
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
    /// `paths_of[o]`: the index of each of those paths (parallel to `sources_of[o]`).
    pub paths_of: Vec<Vec<u32>>,
}

/// How evenly the edges of a transition spread over the target neurons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The number of target neurons.
    pub targets: usize,
    /// The number of edges (paths).
    pub edges: usize,
    /// The smallest fan-in of a target neuron.
    pub min_fan_in: usize,
    /// The largest fan-in of a target neuron.
    pub max_fan_in: usize,
    /// Edges that repeat an earlier edge between the same two neurons.
    pub duplicates: usize,
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} edges into {} neurons, fan-in {}..={}, {} duplicate edges",
            self.edges, self.targets, self.min_fan_in, self.max_fan_in, self.duplicates
        )
    }
}

impl EdgeTable {
    /// The fan-in spread and the duplicates: the imbalance report of the transition.
    pub fn balance(&self) -> Balance {
        Balance {
            targets: self.targets,
            edges: self.sources_of.iter().map(Vec::len).sum(),
            min_fan_in: self.min_fan_in(),
            max_fan_in: self.max_fan_in(),
            duplicates: self.duplicates(),
        }
    }

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
        let mut paths_of = vec![Vec::new(); self.widths[transition + 1]];
        for (path, (&source, &target)) in from.iter().zip(to).enumerate() {
            sources_of[target as usize].push(source);
            paths_of[target as usize].push(path as u32);
        }
        EdgeTable {
            targets: self.widths[transition + 1],
            sources: self.widths[transition],
            sources_of,
            paths_of,
        }
    }

    /// The sign of every path's edge in transition `transition` (`true`: negative), from a
    /// dimension of the generator that the neurons do not use (`L + 1 + transition`). With
    /// Sobol' points every aligned pair of paths has one edge of each sign.
    ///
    /// # Panics
    /// If `transition + 1` is not a layer.
    pub fn signs(&self, transition: usize) -> Vec<bool> {
        let layers = self.widths.len();
        assert!(
            transition + 1 < layers,
            "Paths::signs: transition {transition} of a network of {layers} layers"
        );
        let coordinates = Coordinates::new(self.generator, dimensions(layers))
            .expect("the generator served these paths");
        (0..self.count() as u64)
            .map(|i| coordinates.at(i as u32, layers + transition) >> 31 == 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOBOL: PathGenerator = PathGenerator::Sobol;

    #[test]
    fn sobol_paths_give_constant_fan_in_and_fan_out_for_powers_of_two() {
        for randomization in [
            SOBOL,
            PathGenerator::SobolShifted { seed: 3 },
            PathGenerator::SobolScrambled { seed: 5 },
        ] {
            let paths = generate_paths(&[8, 16, 4], 64, randomization).unwrap();
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
    fn sobol_signs_alternate_within_every_pair_of_paths() {
        let paths = generate_paths(&[8, 16, 4], 64, SOBOL).unwrap();
        for transition in 0..2 {
            let signs = paths.signs(transition);
            assert!(signs.chunks(2).all(|pair| pair[0] != pair[1]), "{signs:?}");
        }
        assert_ne!(
            paths.signs(0),
            paths.signs(1),
            "one dimension per transition"
        );
        let walk = |seed| {
            generate_paths(&[8, 16, 4], 64, PathGenerator::RandomWalk { seed })
                .unwrap()
                .signs(0)
        };
        assert_eq!(walk(1), walk(1));
        assert_ne!(walk(1), walk(2));
    }

    #[test]
    fn edge_tables_name_the_path_of_every_edge() {
        let paths = generate_paths(&[8, 16, 4], 64, SOBOL).unwrap();
        let edges = paths.edges(1);
        for (target, (sources, ids)) in edges.sources_of.iter().zip(&edges.paths_of).enumerate() {
            for (&source, &id) in sources.iter().zip(ids) {
                assert_eq!(paths.neurons[1][id as usize], source);
                assert_eq!(paths.neurons[2][id as usize], target as u32);
            }
        }
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
        let balance = edges.balance();
        assert_eq!((balance.targets, balance.edges), (300, 3000));
        assert!(
            balance
                .to_string()
                .starts_with("3000 edges into 300 neurons, fan-in ")
        );
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
        let deep = vec![2; 600];
        assert!(
            message(generate_paths(&deep, 8, SOBOL)).starts_with("invalid `widths` = 600 layers")
        );
        // Random walks have no table to run out of.
        assert!(generate_paths(&deep, 8, PathGenerator::RandomWalk { seed: 1 }).is_ok());
    }
}
