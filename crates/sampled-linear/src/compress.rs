//! Whole models into compact sampled layers, in one call, with the model code written once.
//!
//! A model declares the layers that may be compressed as [`LinearLayer`] (and
//! `sampled_conv::Conv2dLayer`): dense or sampled, a drop-in for Burn's layer with the same
//! record paths while dense, so a dense checkpoint of the same model loads as before.
//! [`compress`] samples the selected ones in place ([`CompressionPlan`]: which layers, the
//! amount per layer); [`CompactLayout`] is what a fresh process needs besides the record to
//! load the compressed model: the sampled layers' configurations, by path.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::module::Module;
//! use burn::nn::{LinearConfig, Relu};
//! use burn::tensor::{Device, Distribution, Tensor};
//! use sampled_linear::{
//!     Budget, CompactLayout, CompressionPlan, LayerSelection, LinearLayer, SamplingConfig,
//!     compress,
//! };
//!
//! #[derive(Module, Debug)]
//! struct Mlp {
//!     hidden: LinearLayer,
//!     output: LinearLayer,
//!     relu: Relu,
//! }
//!
//! impl Mlp {
//!     fn new(device: &Device) -> Self {
//!         Self {
//!             hidden: LinearConfig::new(64, 32).init(device).into(),
//!             output: LinearConfig::new(32, 10).init(device).into(),
//!             relu: Relu::new(),
//!         }
//!     }
//!     fn forward(&self, x: Tensor<2>) -> Tensor<2> {
//!         self.output.forward(self.relu.forward(self.hidden.forward(x)))
//!     }
//! }
//!
//! let device = Device::flex();
//! let trained = Mlp::new(&device);
//! // Sample the hidden layer at K = 0.5; keep the output layer dense.
//! let plan = CompressionPlan::new(SamplingConfig::new(Budget::Amount(0.5)).with_seed(1))
//!     .with_layers(LayerSelection::Hidden);
//! let (compact, reports) = compress(trained, &plan).unwrap();
//! assert_eq!(reports.len(), 1);
//! assert!(compact.hidden.is_sampled() && !compact.output.is_sampled());
//!
//! // Elsewhere, from the model's own constructor, the layout and the record alone.
//! let layout = CompactLayout::of(&compact);
//! let record = compact.clone().into_record();
//! let loaded = layout.apply(Mlp::new(&device)).unwrap().load_record(record);
//! let x = Tensor::<2>::random([4, 64], Distribution::Default, &device);
//! loaded.forward(x.clone()).into_data().assert_eq(&compact.forward(x).into_data(), true);
//! # }
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use burn::module::{Module, ModuleMapper, ModuleVisitor};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{Budget, SamplingConfig};
use crate::error::SampledLinearError;
use crate::layer::{SampledLinear, SampledLinearConfig};
use crate::mapper::LayerKind;
use crate::report::{LayerReport, StoredSize};

/// Which of a model's compressible layers (in visiting order, the order of the model's
/// fields) are sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerSelection {
    /// Every layer.
    All,
    /// Every layer but the last (the output layer stays dense).
    Hidden,
    /// Every layer but the first and the last (the quantization literature's usual choice).
    Inner,
    /// The convolutions.
    Conv,
    /// The linear layers.
    Linear,
}

impl LayerSelection {
    /// Every selection.
    pub const ALL: [Self; 5] = [
        Self::All,
        Self::Hidden,
        Self::Inner,
        Self::Conv,
        Self::Linear,
    ];

    /// The name on command lines and in results: `all`, `hidden`, `inner`, `conv`, `linear`.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Hidden => "hidden",
            Self::Inner => "inner",
            Self::Conv => "conv",
            Self::Linear => "linear",
        }
    }

    /// The paths of the layers of `layers` (a model's, from [`compressible_layers`]) of one of
    /// `kinds` that this selection takes, positions counted among those of `kinds`.
    pub fn paths(self, layers: &[CompressibleLayer], kinds: &[LayerKind]) -> Vec<String> {
        let candidates: Vec<&CompressibleLayer> =
            layers.iter().filter(|l| kinds.contains(&l.kind)).collect();
        candidates
            .iter()
            .enumerate()
            .filter(|(i, l)| self.selects(*i, candidates.len(), l.kind))
            .map(|(_, l)| l.path.clone())
            .collect()
    }

    /// Whether the layer at `position` of `count`, of `kind`, is selected.
    pub fn selects(self, position: usize, count: usize, kind: LayerKind) -> bool {
        match self {
            Self::All => true,
            Self::Hidden => position + 1 < count,
            Self::Inner => position > 0 && position + 1 < count,
            Self::Conv => kind == LayerKind::Conv2d,
            Self::Linear => kind == LayerKind::Linear,
        }
    }
}

impl fmt::Display for LayerSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LayerSelection {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown layer selection `{name}`: expected {}",
                    known.join(", ")
                )
            })
    }
}

/// Which layers [`compress`] samples and how.
#[derive(Clone, Debug)]
pub struct CompressionPlan {
    /// How every selected layer is sampled; layer `i` of the selected ones (in visiting
    /// order) uses the seed `sampling.seed + i`.
    pub sampling: SamplingConfig,
    /// Which layers.
    pub layers: LayerSelection,
    /// Sampling amounts `K` for given layers (by path, e.g. `fc2` or `layers.1`), in place of
    /// the plan's budget.
    pub amounts: Vec<(String, f64)>,
}

impl CompressionPlan {
    /// Every layer, sampled as `sampling` says.
    pub fn new(sampling: SamplingConfig) -> Self {
        Self {
            sampling,
            layers: LayerSelection::All,
            amounts: Vec::new(),
        }
    }

    /// The plan for the `layers` selected.
    pub fn with_layers(mut self, layers: LayerSelection) -> Self {
        self.layers = layers;
        self
    }

    /// The plan with the amount `K` for the layer at `path`.
    pub fn with_amount(mut self, path: impl Into<String>, amount: f64) -> Self {
        self.amounts.push((path.into(), amount));
        self
    }
}

/// A compressible layer of a model, as [`compressible_layers`] finds it.
#[derive(Clone, Debug, PartialEq)]
pub struct CompressibleLayer {
    /// Its path in the model (`fc1`, `layers.0`, …).
    pub path: String,
    /// Linear or convolution.
    pub kind: LayerKind,
    /// Whether it is sampled already.
    pub sampled: bool,
    /// Its number of weights (`d_input · d_output`, or filters times taps).
    pub weights: usize,
    /// Its outputs: neurons, or filters (the length of its bias).
    pub outputs: usize,
    /// Its size as stored: f32 weights and bias while dense (all weights non-zero); the packed
    /// counts, the scales and the bias once sampled.
    pub size: StoredSize,
}

/// A layer type that is dense or sampled ([`LinearLayer`], `sampled_conv::Conv2dLayer`):
/// what [`compress`] and [`CompactLayout`] need of it. Implemented through
/// [`dense_or_sampled_module!`](crate::dense_or_sampled_module).
pub trait Compressible: Module + Sized {
    /// Linear or convolution.
    const KIND: LayerKind;
    /// Whether it is sampled.
    fn is_sampled(&self) -> bool;
    /// Its number of weights.
    fn weights(&self) -> usize;
    /// Its outputs (neurons or filters).
    fn outputs(&self) -> usize;
    /// Its size as stored: all weights non-zero and `f32` while dense.
    fn stored_size(&self) -> StoredSize;
    /// The layer sampled as `config` says (`name` in errors and the report); a sampled layer
    /// is returned as it is, with no report.
    ///
    /// # Errors
    /// As the sampled layer's constructor.
    fn sample(
        &self,
        config: &SamplingConfig,
        name: &str,
    ) -> Result<(Self, Option<LayerReport>), SampledLinearError>;
    /// The sampled layer's configuration as JSON (`None` while dense).
    fn layout(&self) -> Option<serde_json::Value>;
    /// An empty sampled layer of the configuration `config` (JSON), on this layer's device,
    /// awaiting its record.
    ///
    /// # Errors
    /// A configuration that does not parse, or whose shapes are not this layer's.
    fn empty_sampled(&self, config: &serde_json::Value) -> Result<Self, String>;
}

/// One sampled layer of a [`CompactLayout`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayoutEntry {
    /// Its path in the model.
    pub path: String,
    /// `Linear` or `Conv2d`.
    pub kind: String,
    /// Its configuration (`SampledLinearConfig`, `SampledConv2dConfig`).
    pub config: serde_json::Value,
}

/// The sampled layers of a compressed model, by path, with their configurations: with the
/// model's own (dense) constructor, what a fresh process needs to rebuild the compressed model
/// before loading its record. Saved as JSON beside the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CompactLayout {
    /// The sampled layers, in visiting order.
    pub layers: Vec<LayoutEntry>,
}

impl CompactLayout {
    /// The layout of `model`'s sampled layers.
    pub fn of<M: Module>(model: &M) -> Self {
        let context = with_context(Mode::Collect, || model.visit(&mut PathTracker));
        Self {
            layers: context.entries,
        }
    }

    /// `model` (built by its own constructor, dense) with the layers of this layout replaced
    /// by empty sampled layers of their configurations, ready for the compressed record.
    ///
    /// # Errors
    /// A layout path that is not a compressible layer of `model` or is of another kind, or a
    /// configuration that does not parse or does not fit the layer's shapes.
    pub fn apply<M: Module>(&self, model: M) -> Result<M, String> {
        let layout: HashMap<String, LayoutEntry> = self
            .layers
            .iter()
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
        let mut model = Some(model);
        let context = with_context(Mode::Apply(layout), || {
            model = model.take().map(|m| m.map(&mut PathTracker));
        });
        if let Some(error) = context.error {
            return Err(error);
        }
        let applied: Vec<&String> = context.reports_paths.iter().collect();
        if let Some(missing) = self.layers.iter().find(|e| !applied.contains(&&e.path)) {
            return Err(format!(
                "layout: the model has no compressible {} layer at `{}`",
                missing.kind, missing.path
            ));
        }
        Ok(model.expect("mapped"))
    }

    /// Writes the layout as JSON.
    ///
    /// # Errors
    /// A file that cannot be written, naming it.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), String> {
        let path = path.as_ref();
        let text = serde_json::to_string_pretty(self).expect("a layout serializes");
        std::fs::write(path, text).map_err(|e| format!("layout {}: {e}", path.display()))
    }

    /// Reads a layout written by [`save`](Self::save).
    ///
    /// # Errors
    /// A file that cannot be read or is not a layout, naming it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("layout {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("layout {}: not a compact layout: {e}", path.display()))
    }
}

/// The compressible layers of `model` in visiting order.
pub fn compressible_layers<M: Module>(model: &M) -> Vec<CompressibleLayer> {
    with_context(Mode::List, || model.visit(&mut PathTracker)).found
}

/// Samples the layers of `model` that `plan` selects, in place: each becomes its compact
/// sampled form. Returns the model and a report per sampled layer.
///
/// # Errors
/// A plan's amount for a path that is not a compressible layer, a bad budget, or a layer that
/// cannot be sampled (a NaN weight, …), naming the layer; the model is then dropped.
pub fn compress<M: Module>(
    model: M,
    plan: &CompressionPlan,
) -> Result<(M, Vec<LayerReport>), SampledLinearError> {
    plan.sampling.check()?;
    let layers = compressible_layers(&model);
    let selected: Vec<(usize, &CompressibleLayer)> = layers
        .iter()
        .enumerate()
        .filter(|(position, layer)| plan.layers.selects(*position, layers.len(), layer.kind))
        .collect();
    // Every planned amount names a layer of the model that the selection takes.
    for (path, _) in &plan.amounts {
        if !layers.iter().any(|l| &l.path == path) {
            let known: Vec<&str> = layers.iter().map(|l| l.path.as_str()).collect();
            return Err(SampledLinearError::config(
                "amounts",
                format!("a path `{path}`"),
                format!("a compressible layer of the model: {}", known.join(", ")),
            ));
        }
        if !selected.iter().any(|(_, l)| &l.path == path) {
            return Err(SampledLinearError::config(
                "amounts",
                format!("a path `{path}`"),
                format!("a layer the selection `{}` takes", plan.layers),
            ));
        }
    }
    let mut chosen = HashMap::new();
    for (number, (_, layer)) in selected.into_iter().enumerate() {
        let mut config = plan
            .sampling
            .clone()
            .with_seed(plan.sampling.seed.wrapping_add(number as u64));
        if let Some((_, amount)) = plan.amounts.iter().find(|(path, _)| *path == layer.path) {
            config.budget = Budget::Amount(*amount);
            config.check()?;
        }
        chosen.insert(layer.path.clone(), config);
    }
    let mut model = Some(model);
    let context = with_context(Mode::Sample(chosen), || {
        model = model.take().map(|m| m.map(&mut PathTracker));
    });
    match context.sampling_error {
        Some(error) => Err(error),
        None => Ok((model.expect("mapped"), context.reports)),
    }
}

enum Mode {
    List,
    Collect,
    Sample(HashMap<String, SamplingConfig>),
    Apply(HashMap<String, LayoutEntry>),
}

/// What a pass over a model found and did.
struct Context {
    mode: Mode,
    path: Vec<String>,
    found: Vec<CompressibleLayer>,
    entries: Vec<LayoutEntry>,
    reports: Vec<LayerReport>,
    reports_paths: Vec<String>,
    sampling_error: Option<SampledLinearError>,
    error: Option<String>,
}

thread_local! {
    /// The pass in progress on this thread, if any: compressible layers consult it from their
    /// `visit` and `map`, which have no other way to learn their path or what to become.
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Runs `pass` with a context of `mode` on this thread; returns what it gathered.
fn with_context(mode: Mode, pass: impl FnOnce()) -> Context {
    let context = Context {
        mode,
        path: Vec::new(),
        found: Vec::new(),
        entries: Vec::new(),
        reports: Vec::new(),
        reports_paths: Vec::new(),
        sampling_error: None,
        error: None,
    };
    CONTEXT.with(|c| {
        assert!(
            c.borrow().is_none(),
            "compress: a pass is already running on this thread (passes do not nest)"
        );
        c.replace(Some(context))
    });
    // Taken back out even if the pass panics, so the thread is left clean.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CONTEXT.with(|c| c.take());
        }
    }
    let reset = Reset;
    pass();
    let context = CONTEXT.with(|c| c.take()).expect("set above");
    drop(reset);
    context
}

/// Follows the path of the pass; changes nothing itself.
struct PathTracker;

fn enter(name: &str) {
    CONTEXT.with(|c| {
        if let Some(context) = c.borrow_mut().as_mut() {
            context.path.push(name.to_string());
        }
    });
}

fn exit() {
    CONTEXT.with(|c| {
        if let Some(context) = c.borrow_mut().as_mut() {
            context.path.pop();
        }
    });
}

impl ModuleVisitor for PathTracker {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        exit();
    }
}

impl ModuleMapper for PathTracker {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        exit();
    }
}

/// Whether a visitor or mapper of type name `traversal` is a pass of this module: other
/// traversals on the thread (work a thread pool runs while the pass waits, say) are not.
fn is_pass(traversal: &str) -> bool {
    traversal == std::any::type_name::<PathTracker>()
}

/// Called by a compressible layer's `visit` with the visitor's type name: records the layer in
/// a listing or collecting pass.
#[doc(hidden)]
pub fn on_visit<L: Compressible>(layer: &L, visitor: &str) {
    if !is_pass(visitor) {
        return;
    }
    CONTEXT.with(|c| {
        let mut borrowed = c.borrow_mut();
        let Some(context) = borrowed.as_mut() else {
            return;
        };
        let path = context.path.join(".");
        match context.mode {
            Mode::List => context.found.push(CompressibleLayer {
                path,
                kind: L::KIND,
                sampled: layer.is_sampled(),
                weights: layer.weights(),
                outputs: layer.outputs(),
                size: layer.stored_size(),
            }),
            Mode::Collect => {
                if let Some(config) = layer.layout() {
                    context.entries.push(LayoutEntry {
                        path,
                        kind: format!("{:?}", L::KIND),
                        config,
                    });
                }
            }
            _ => {}
        }
    });
}

/// Called by a compressible layer's `map` with the mapper's type name: in a sampling or
/// applying pass, the layer it is to become; otherwise the layer itself.
#[doc(hidden)]
pub fn on_map<L: Compressible>(layer: L, mapper: &str) -> L {
    if !is_pass(mapper) {
        return layer;
    }
    // What to do, read under a short borrow: sampling does not touch the context.
    let task = CONTEXT.with(|c| {
        let borrowed = c.borrow();
        let context = borrowed.as_ref()?;
        let path = context.path.join(".");
        match &context.mode {
            Mode::Sample(chosen) if context.sampling_error.is_none() => chosen
                .get(&path)
                .map(|config| (path, Some(config.clone()), None)),
            Mode::Apply(layout) if context.error.is_none() => layout
                .get(&path)
                .map(|entry| (path, None, Some(entry.clone()))),
            _ => None,
        }
    });
    let Some((path, sampling, entry)) = task else {
        return layer;
    };
    if let Some(config) = sampling {
        return match layer.sample(&config, &path) {
            Ok((sampled, report)) => {
                record(|context| context.reports.extend(report));
                sampled
            }
            Err(error) => {
                record(|context| context.sampling_error = Some(error));
                layer
            }
        };
    }
    let entry = entry.expect("one of the two");
    let kind = format!("{:?}", L::KIND);
    let result = match entry.kind == kind {
        true => layer.empty_sampled(&entry.config),
        false => Err(format!(
            "a {kind} layer, the layout has a {} layer there",
            entry.kind
        )),
    };
    match result {
        Ok(empty) => {
            record(|context| context.reports_paths.push(path));
            empty
        }
        Err(error) => {
            record(|context| context.error = Some(format!("layout: `{path}`: {error}")));
            layer
        }
    }
}

fn record(f: impl FnOnce(&mut Context)) {
    CONTEXT.with(|c| {
        if let Some(context) = c.borrow_mut().as_mut() {
            f(context);
        }
    });
}

/// A linear layer that is dense or sampled: a drop-in for Burn's
/// `Linear` in models that may be compressed ([`compress`]). While dense it records and
/// displays exactly as the `Linear` it holds (same record paths: a dense checkpoint of the
/// model loads as before).
#[derive(Debug, Clone)]
pub enum LinearLayer {
    /// Burn's dense layer.
    Dense(Linear),
    /// Its Monte Carlo quantization.
    Sampled(SampledLinear),
}

impl From<Linear> for LinearLayer {
    fn from(linear: Linear) -> Self {
        Self::Dense(linear)
    }
}

impl From<SampledLinear> for LinearLayer {
    fn from(sampled: SampledLinear) -> Self {
        Self::Sampled(sampled)
    }
}

impl LinearLayer {
    /// A dense layer of `config` on `device` (Burn's initialization).
    pub fn new(config: &LinearConfig, device: &Device) -> Self {
        Self::Dense(config.init(device))
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Dense(linear) => linear.forward(input),
            Self::Sampled(sampled) => sampled.forward(input),
        }
    }

    /// Whether the layer is sampled.
    pub fn is_sampled(&self) -> bool {
        matches!(self, Self::Sampled(_))
    }

    /// The dense layer, if it is one.
    pub fn as_dense(&self) -> Option<&Linear> {
        match self {
            Self::Dense(linear) => Some(linear),
            Self::Sampled(_) => None,
        }
    }

    /// The sampled layer, if it is one.
    pub fn as_sampled(&self) -> Option<&SampledLinear> {
        match self {
            Self::Dense(_) => None,
            Self::Sampled(sampled) => Some(sampled),
        }
    }

    /// `[d_input, d_output]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            Self::Dense(linear) => linear.weight.lazy_shape().dims(),
            Self::Sampled(sampled) => [sampled.d_input(), sampled.d_output()],
        }
    }
}

impl Compressible for LinearLayer {
    const KIND: LayerKind = LayerKind::Linear;

    fn is_sampled(&self) -> bool {
        LinearLayer::is_sampled(self)
    }

    fn weights(&self) -> usize {
        let [d_input, d_output] = self.dims();
        d_input * d_output
    }

    fn outputs(&self) -> usize {
        self.dims()[1]
    }

    fn stored_size(&self) -> StoredSize {
        match self {
            Self::Dense(linear) => StoredSize::dense(self.weights(), linear.num_params()),
            Self::Sampled(sampled) => sampled.stored_size(),
        }
    }

    fn sample(
        &self,
        config: &SamplingConfig,
        name: &str,
    ) -> Result<(Self, Option<LayerReport>), SampledLinearError> {
        match self {
            Self::Dense(linear) => {
                let (sampled, report) = SampledLinear::from_linear(linear, config, name)?;
                Ok((Self::Sampled(sampled), Some(report)))
            }
            sampled => Ok((sampled.clone(), None)),
        }
    }

    fn layout(&self) -> Option<serde_json::Value> {
        self.as_sampled()
            .map(|s| serde_json::to_value(s.config()).expect("a config serializes"))
    }

    fn empty_sampled(&self, config: &serde_json::Value) -> Result<Self, String> {
        let config: SampledLinearConfig = serde_json::from_value(config.clone())
            .map_err(|e| format!("not a SampledLinear configuration: {e}"))?;
        config.layout.check()?;
        let dims = self.dims();
        let layout = [config.layout.d_input, config.layout.d_output];
        if layout != dims {
            return Err(format!(
                "a configuration of {} inputs and {} outputs for a layer of {} and {}",
                layout[0], layout[1], dims[0], dims[1]
            ));
        }
        let device = match self {
            Self::Dense(linear) => linear.weight.lazy_device(),
            Self::Sampled(sampled) => sampled.scales.lazy_device(),
        };
        Ok(Self::Sampled(config.init(&device)))
    }
}

crate::dense_or_sampled_module!(LinearLayer);

/// Implements Burn's `Module` and display traits for a two-variant enum `Dense(_)` /
/// `Sampled(_)` that implements [`Compressible`]: each call goes to the variant, with no path
/// segment of its own (the record paths are those of the layer held), and `visit` / `map`
/// consult the pass of [`compress`] or [`CompactLayout`] in progress.
#[macro_export]
macro_rules! dense_or_sampled_module {
    ($name:ident) => {
        impl $crate::__burn::module::Module for $name {
            fn collect_devices(
                &self,
                devices: $crate::__burn::module::Devices,
            ) -> $crate::__burn::module::Devices {
                match self {
                    Self::Dense(l) => l.collect_devices(devices),
                    Self::Sampled(l) => l.collect_devices(devices),
                }
            }

            fn fork(self, device: &$crate::__burn::tensor::Device) -> Self {
                match self {
                    Self::Dense(l) => Self::Dense(l.fork(device)),
                    Self::Sampled(l) => Self::Sampled(l.fork(device)),
                }
            }

            fn to_device(self, device: &$crate::__burn::tensor::Device) -> Self {
                match self {
                    Self::Dense(l) => Self::Dense(l.to_device(device)),
                    Self::Sampled(l) => Self::Sampled(l.to_device(device)),
                }
            }

            fn train(self) -> Self {
                match self {
                    Self::Dense(l) => Self::Dense(l.train()),
                    Self::Sampled(l) => Self::Sampled(l.train()),
                }
            }

            fn valid(&self) -> Self {
                match self {
                    Self::Dense(l) => Self::Dense(l.valid()),
                    Self::Sampled(l) => Self::Sampled(l.valid()),
                }
            }

            fn materialize(self) -> Self {
                match self {
                    Self::Dense(l) => Self::Dense(l.materialize()),
                    Self::Sampled(l) => Self::Sampled(l.materialize()),
                }
            }

            fn visit<V: $crate::__burn::module::ModuleVisitor>(&self, visitor: &mut V) {
                $crate::compress::on_visit(self, std::any::type_name::<V>());
                match self {
                    Self::Dense(l) => l.visit(visitor),
                    Self::Sampled(l) => l.visit(visitor),
                }
            }

            fn map<M: $crate::__burn::module::ModuleMapper>(self, mapper: &mut M) -> Self {
                match $crate::compress::on_map(self, std::any::type_name::<M>()) {
                    Self::Dense(l) => Self::Dense(l.map(mapper)),
                    Self::Sampled(l) => Self::Sampled(l.map(mapper)),
                }
            }
        }

        impl $crate::__burn::module::ModuleDisplayDefault for $name {
            fn content(
                &self,
                content: $crate::__burn::module::Content,
            ) -> Option<$crate::__burn::module::Content> {
                match self {
                    Self::Dense(l) => {
                        $crate::__burn::module::ModuleDisplayDefault::content(l, content)
                    }
                    Self::Sampled(l) => {
                        $crate::__burn::module::ModuleDisplayDefault::content(l, content)
                    }
                }
            }

            fn num_params(&self) -> usize {
                $crate::__burn::module::Module::num_params(self)
            }
        }

        impl $crate::__burn::module::ModuleDisplay for $name {
            fn format(&self, settings: $crate::__burn::module::DisplaySettings) -> String {
                match self {
                    Self::Dense(l) => $crate::__burn::module::ModuleDisplay::format(l, settings),
                    Self::Sampled(l) => $crate::__burn::module::ModuleDisplay::format(l, settings),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let settings = $crate::__burn::module::DisplaySettings::default();
                f.write_str(&$crate::__burn::module::ModuleDisplay::format(
                    self, settings,
                ))
            }
        }
    };
}
