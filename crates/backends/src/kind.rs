use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A Burn backend that mcnn can run on.
///
/// Every variant exists in every build, so that a name given on the command line can be
/// told apart as "unknown" or "not compiled in"; [`BackendKind::compiled`] lists the ones
/// this build can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (feature `flex`, the default).
    Flex,
    /// Burn's ndarray CPU backend (feature `ndarray`; deprecated upstream, still tested).
    NdArray,
    /// Burn's wgpu backend: any Vulkan, Metal or DX12 GPU, or lavapipe on the CPU
    /// (feature `wgpu`).
    Wgpu,
}

/// Why a backend name could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not one of `flex`, `ndarray`, `wgpu`.
    Unknown(String),
    /// The backend exists but this build was compiled without its feature.
    NotCompiled(BackendKind),
    /// No backend feature is enabled at all.
    NoneCompiled,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(
                f,
                "unknown backend `{name}`: expected one of {}",
                BackendKind::ALL.map(BackendKind::name).join(", ")
            ),
            Self::NotCompiled(kind) => write!(
                f,
                "backend `{kind}` is not compiled into this build: rebuild with `--features {kind}` \
                 (compiled: {})",
                compiled_names()
            ),
            Self::NoneCompiled => write!(
                f,
                "no backend is compiled in: enable one of the features flex, ndarray, wgpu"
            ),
        }
    }
}

impl std::error::Error for BackendError {}

fn compiled_names() -> String {
    let names: Vec<_> = BackendKind::compiled().iter().map(|k| k.name()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl BackendKind {
    /// Every backend mcnn knows, compiled in or not.
    pub const ALL: [BackendKind; 3] = [Self::Flex, Self::NdArray, Self::Wgpu];

    /// The name used on command lines, in features and in result files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Wgpu => "wgpu",
        }
    }

    /// Whether this build has the backend's feature.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::NdArray => cfg!(feature = "ndarray"),
            Self::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// Whether the backend computes on the host CPU through Rust code (not a GPU runtime).
    pub fn is_cpu(self) -> bool {
        matches!(self, Self::Flex | Self::NdArray)
    }

    /// The backends compiled into this build, CPU backends first.
    pub fn compiled() -> Vec<BackendKind> {
        Self::ALL.into_iter().filter(|k| k.is_compiled()).collect()
    }

    /// The default CPU backend of this build: flex if compiled, else ndarray.
    pub fn default_cpu() -> Result<BackendKind, BackendError> {
        Self::compiled()
            .into_iter()
            .find(|k| k.is_cpu())
            .ok_or(BackendError::NoneCompiled)
    }

    /// Parses a name and checks that the backend is compiled in.
    pub fn parse_compiled(name: &str) -> Result<BackendKind, BackendError> {
        let kind: BackendKind = name.parse()?;
        if kind.is_compiled() {
            Ok(kind)
        } else {
            Err(BackendError::NotCompiled(kind))
        }
    }

    /// The backend's default device (not autodiff; call `.autodiff()` to train).
    ///
    /// # Panics
    /// If the backend is not compiled in; use [`BackendKind::parse_compiled`] or
    /// [`BackendKind::compiled`] to get a usable kind.
    pub fn device(self) -> Device {
        self.try_device().unwrap_or_else(|err| panic!("{err}"))
    }

    /// The backend that runs `device` (for an autodiff device, the one it wraps); `None` for
    /// a device of a backend mcnn does not serve (a CubeCL device counts as wgpu).
    ///
    /// ```
    /// use mcnn_backends::BackendKind;
    ///
    /// let kind = BackendKind::default_cpu().unwrap();
    /// assert_eq!(BackendKind::of(&kind.device().autodiff()), Some(kind));
    /// ```
    pub fn of(device: &Device) -> Option<BackendKind> {
        #[allow(unused_imports)]
        use burn::backend::DispatchDevice;
        match device.clone().inner().as_dispatch() {
            #[cfg(feature = "flex")]
            DispatchDevice::Flex(_) => Some(Self::Flex),
            #[cfg(feature = "ndarray")]
            DispatchDevice::NdArray(_) => Some(Self::NdArray),
            #[cfg(feature = "wgpu")]
            DispatchDevice::Cube(_) => Some(Self::Wgpu),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The backend's default device, or why it cannot be had in this build.
    pub fn try_device(self) -> Result<Device, BackendError> {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            Self::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotCompiled(other)),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let lower = name.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| BackendError::Unknown(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
        }
        assert_eq!(
            "NdArray".parse::<BackendKind>().unwrap(),
            BackendKind::NdArray
        );
    }

    #[test]
    fn unknown_name_lists_the_choices() {
        let err = "cuda-ish".parse::<BackendKind>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("cuda-ish"), "{message}");
        assert!(message.contains("flex, ndarray, wgpu"), "{message}");
    }

    #[test]
    fn uncompiled_backend_says_which_feature() {
        for kind in BackendKind::ALL {
            match BackendKind::parse_compiled(kind.name()) {
                Ok(k) => assert!(k.is_compiled()),
                Err(err) => {
                    assert_eq!(err, BackendError::NotCompiled(kind));
                    assert!(err.to_string().contains(&format!("--features {kind}")));
                }
            }
        }
    }
}
