//! Video out of the renderer, through GStreamer: H.264 (I420) in MP4, and a live RTSP server
//! (gstreamer-rtsp-server) that streams H.264 encoded once, so serving several streams costs
//! no encoding while the system under test runs beside it.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    thread,
    time::{Duration, SystemTime},
};

use anyhow::{Context, anyhow, bail};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use crate::{World, render::Renderer};

/// Starts GStreamer once per process.
pub fn init() -> anyhow::Result<()> {
    gst::init().context("starting GStreamer")
}

/// How frames are encoded.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    pub bitrate_kbps: u32,
    /// A keyframe at least every this many frames (clients join on keyframes).
    pub keyframe_every: u32,
    /// Encode only the first N frames.
    pub limit: Option<usize>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            bitrate_kbps: 4000,
            keyframe_every: 25,
            limit: None,
        }
    }
}

/// H.264 access units of a rendered stream, in order, the first one a keyframe.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub units: Vec<gst::Buffer>,
}

fn encoder_chain(opts: &EncodeOptions) -> String {
    // One encoder thread and no B-frames: the same input gives the same bytes, and a client
    // decodes each unit as it comes.
    format!(
        "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=superfast tune=zerolatency \
         threads=1 bframes=0 bitrate={} key-int-max={} ! h264parse config-interval=-1 ! \
         video/x-h264,stream-format=byte-stream,alignment=au",
        opts.bitrate_kbps, opts.keyframe_every
    )
}

fn raw_caps(width: u32, height: u32, fps: u32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(fps as i32, 1))
        .build()
}

fn frame_duration(fps: u32) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(1_000_000_000 / u64::from(fps.max(1)))
}

/// Pushes the rendered frames into the pipeline's `src` and waits for its end.
fn run_pipeline(
    pipeline: &gst::Pipeline,
    renderer: &Renderer,
    opts: &EncodeOptions,
    sink: Option<&gst_app::AppSink>,
) -> anyhow::Result<Vec<gst::Buffer>> {
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.dynamic_cast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| anyhow!("pipeline has no appsrc named src"))?;
    let camera = renderer.camera();
    let fps = renderer.fps();
    src.set_caps(Some(&raw_caps(camera.width(), camera.height(), fps)));
    src.set_format(gst::Format::Time);
    pipeline
        .set_state(gst::State::Playing)
        .context("starting the encoder")?;
    let count = opts
        .limit
        .map_or(renderer.frame_count(), |n| n.min(renderer.frame_count()));
    let duration = frame_duration(fps);
    let pusher = {
        let src = src.clone();
        thread::scope(|scope| -> anyhow::Result<Vec<gst::Buffer>> {
            let push = scope.spawn(move || -> anyhow::Result<()> {
                for i in 0..count {
                    let frame = renderer.render(i);
                    let mut buffer = gst::Buffer::from_mut_slice(frame.image.into_raw());
                    {
                        let b = buffer
                            .get_mut()
                            .ok_or_else(|| anyhow!("fresh buffer is shared"))?;
                        b.set_pts(duration * i as u64);
                        b.set_duration(duration);
                    }
                    src.push_buffer(buffer)
                        .map_err(|e| anyhow!("encoder refused frame {i}: {e:?}"))?;
                }
                src.end_of_stream()
                    .map_err(|e| anyhow!("ending the stream: {e:?}"))?;
                Ok(())
            });
            let mut units = Vec::new();
            if let Some(sink) = sink {
                while let Ok(sample) = sink.pull_sample() {
                    if let Some(buffer) = sample.buffer_owned() {
                        units.push(buffer);
                    }
                }
            }
            push.join()
                .map_err(|_| anyhow!("frame pusher panicked"))??;
            Ok(units)
        })
    };
    let bus = pipeline
        .bus()
        .ok_or_else(|| anyhow!("pipeline has no bus"))?;
    let result = match bus.timed_pop_filtered(
        gst::ClockTime::NONE,
        &[gst::MessageType::Eos, gst::MessageType::Error],
    ) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(e) => {
                Err(anyhow!("encoding failed: {} ({:?})", e.error(), e.debug()))
            }
            _ => Ok(()),
        },
        None => Err(anyhow!("encoder bus closed")),
    };
    pipeline
        .set_state(gst::State::Null)
        .context("stopping the encoder")?;
    result?;
    pusher
}

/// Encodes the rendered frames to H.264 access units in memory.
pub fn encode(renderer: &Renderer, opts: &EncodeOptions) -> anyhow::Result<Encoded> {
    init()?;
    let launch = format!(
        "appsrc name=src ! {} ! appsink name=sink sync=false",
        encoder_chain(opts)
    );
    let pipeline = gst::parse::launch(&launch)
        .context("building the encoder (are gstreamer1.0-plugins-ugly and -good installed?)")?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("pipeline has no appsink"))?;
    let units = run_pipeline(&pipeline, renderer, opts, Some(&sink))?;
    if units.is_empty() {
        bail!("the encoder produced nothing");
    }
    let camera = renderer.camera();
    Ok(Encoded {
        width: camera.width(),
        height: camera.height(),
        fps: renderer.fps(),
        units,
    })
}

/// A scenario's streams as `sim serve` serves them (see [`encode_site`]).
#[derive(Debug, Clone)]
pub struct Site {
    /// `name`, and `name-plates` when the scenario has a plate camera.
    pub streams: Vec<(String, Encoded)>,
    /// The groups of streams that play in step: the pair, if there is one.
    pub linked: Vec<Vec<String>>,
}

/// Encodes a scenario's streams side by side: `name` from its camera and, when it has a plate
/// camera, `name-plates` from that (its bitrate grown with the square root of its pixels over
/// the overview's), the two linked to play in step ([`RtspServer::start_linked`]).
pub fn encode_site(world: &World, name: &str, opts: &EncodeOptions) -> anyhow::Result<Site> {
    let Some(plates) = world.plate_view() else {
        let encoded = encode(&Renderer::new(world), opts)?;
        return Ok(Site {
            streams: vec![(name.to_owned(), encoded)],
            linked: Vec::new(),
        });
    };
    let pixels = |w: &World| f64::from(w.camera.width()) * f64::from(w.camera.height());
    let plate_opts = EncodeOptions {
        bitrate_kbps: (f64::from(opts.bitrate_kbps) * (pixels(&plates) / pixels(world)).sqrt())
            .round() as u32,
        ..*opts
    };
    let (overview, zoomed) = thread::scope(|s| {
        let zoomed = s.spawn(|| encode(&Renderer::new(&plates), &plate_opts));
        let overview = encode(&Renderer::new(world), opts);
        (overview, zoomed.join())
    });
    let zoomed = zoomed.map_err(|_| anyhow!("encoding the plate camera panicked"))?;
    let names = vec![name.to_owned(), format!("{name}-plates")];
    Ok(Site {
        streams: vec![(names[0].clone(), overview?), (names[1].clone(), zoomed?)],
        linked: vec![names],
    })
}

/// Writes the rendered frames as H.264 in MP4.
pub fn write_mp4(renderer: &Renderer, path: &Path, opts: &EncodeOptions) -> anyhow::Result<()> {
    init()?;
    let location = path
        .to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", path.display()))?;
    let launch = format!(
        "appsrc name=src ! {} ! h264parse ! mp4mux faststart=true ! filesink name=file",
        encoder_chain(opts)
    );
    let pipeline = gst::parse::launch(&launch)
        .context("building the MP4 writer")?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let file = pipeline
        .by_name("file")
        .ok_or_else(|| anyhow!("no filesink"))?;
    file.set_property("location", location);
    run_pipeline(&pipeline, renderer, opts, None)?;
    fix_creation_times(path)
}

/// The muxer stamps the wall-clock time into the movie, track and media headers; a fixed time
/// (2025-01-01) makes the same seed write the same bytes.
fn fix_creation_times(path: &Path) -> anyhow::Result<()> {
    const FIXED: u32 = 3_818_448_000; // 2025-01-01T00:00:00Z in seconds since 1904.
    let mut bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if size < 8 || at + size > bytes.len() {
            break;
        }
        if &bytes[at + 4..at + 8] == b"moov" {
            let moov = at..at + size;
            for header in [b"mvhd", b"tkhd", b"mdhd"] {
                let mut i = moov.start;
                while i + 20 <= moov.end {
                    // Version 0 headers: type, version and flags, creation, modification.
                    if &bytes[i..i + 4] == header && bytes[i + 4] == 0 {
                        bytes[i + 8..i + 12].copy_from_slice(&FIXED.to_be_bytes());
                        bytes[i + 12..i + 16].copy_from_slice(&FIXED.to_be_bytes());
                    }
                    i += 1;
                }
            }
        }
        at += size;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads the H.264 access units of an MP4 file (to serve it without re-encoding).
pub fn read_mp4(path: &Path) -> anyhow::Result<Encoded> {
    init()?;
    let location = path
        .to_str()
        .ok_or_else(|| anyhow!("path {} is not UTF-8", path.display()))?;
    let pipeline = gst::parse::launch(
        "filesrc name=file ! qtdemux ! h264parse config-interval=-1 ! \
         video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false",
    )
    .context("building the MP4 reader")?
    .downcast::<gst::Pipeline>()
    .map_err(|_| anyhow!("not a pipeline"))?;
    pipeline
        .by_name("file")
        .ok_or_else(|| anyhow!("no filesrc"))?
        .set_property("location", location);
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
        .ok_or_else(|| anyhow!("no appsink"))?;
    pipeline
        .set_state(gst::State::Playing)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut units = Vec::new();
    let mut caps = None;
    while let Ok(sample) = sink.pull_sample() {
        if caps.is_none() {
            caps = sample.caps_owned();
        }
        if let Some(b) = sample.buffer_owned() {
            units.push(b);
        }
    }
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).ok();
    if let Some(msg) = error
        && let gst::MessageView::Error(e) = msg.view()
    {
        bail!("reading {}: {}", path.display(), e.error());
    }
    let s = caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .ok_or_else(|| anyhow!("{} has no H.264 video", path.display()))?;
    let fps = s
        .get::<gst::Fraction>("framerate")
        .map(|f| (f.numer() / f.denom().max(1)).max(1) as u32)
        .unwrap_or(25);
    Ok(Encoded {
        width: s.get::<i32>("width").unwrap_or(0) as u32,
        height: s.get::<i32>("height").unwrap_or(0) as u32,
        fps,
        units,
    })
}

/// A running RTSP server; stops when dropped.
#[derive(Debug)]
pub struct RtspServer {
    addr: SocketAddr,
    server: rtsp::RTSPServer,
    main_loop: gst::glib::MainLoop,
    thread: Option<thread::JoinHandle<()>>,
    mounts: Vec<String>,
    started: Arc<Mutex<HashMap<String, SystemTime>>>,
}

impl RtspServer {
    /// Serves each stream at `rtsp://{bind}/{name}`, looping, `speed` times real time (1.0:
    /// real time; higher: frames come as fast as a client takes them, for tests).
    pub fn start(
        bind: SocketAddr,
        streams: Vec<(String, Encoded)>,
        speed: f64,
    ) -> anyhow::Result<Self> {
        Self::start_linked(bind, streams, speed, &[])
    }

    /// As [`RtspServer::start`], with the streams named in each group of `linked` playing in
    /// step, as the cameras of one junction do: the first of a group to be asked for starts
    /// the group's clock, and another begins where that clock is by then (a plate camera and
    /// its overview camera see each road user at the same moment).
    pub fn start_linked(
        bind: SocketAddr,
        streams: Vec<(String, Encoded)>,
        speed: f64,
        linked: &[Vec<String>],
    ) -> anyhow::Result<Self> {
        if !(speed.is_finite() && speed > 0.0) {
            bail!("speed must be more than 0");
        }
        init()?;
        let server = rtsp::RTSPServer::new();
        server.set_address(&bind.ip().to_string());
        server.set_service(&bind.port().to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| anyhow!("rtsp server has no mount points"))?;
        let mut names = Vec::new();
        let started = Arc::new(Mutex::new(HashMap::new()));
        type Clock = Arc<Mutex<Option<SystemTime>>>;
        let clocks: Vec<(&Vec<String>, Clock)> = linked
            .iter()
            .map(|group| (group, Arc::new(Mutex::new(None))))
            .collect();
        for (name, encoded) in streams {
            if encoded.units.is_empty() {
                bail!("stream {name} has no video");
            }
            let clock: Option<Clock> = clocks
                .iter()
                .find(|(group, _)| group.contains(&name))
                .map(|(_, c)| c.clone());
            let factory = rtsp::RTSPMediaFactory::new();
            factory.set_launch("( appsrc name=src is-live=true format=time ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )");
            factory.set_shared(true);
            let encoded = Arc::new(encoded);
            let (mount, started_at) = (name.clone(), started.clone());
            factory.connect_media_configure(move |_, media| {
                let Some(bin) = media.element().downcast::<gst::Bin>().ok() else {
                    return;
                };
                let Some(src) = bin
                    .by_name_recurse_up("src")
                    .and_then(|e| e.dynamic_cast::<gst_app::AppSrc>().ok())
                else {
                    return;
                };
                src.set_caps(Some(
                    &gst::Caps::builder("video/x-h264")
                        .field("stream-format", "byte-stream")
                        .field("alignment", "au")
                        .field("width", encoded.width as i32)
                        .field("height", encoded.height as i32)
                        .field("framerate", gst::Fraction::new(encoded.fps as i32, 1))
                        .build(),
                ));
                // The frame index the next buffer takes, and the one this media began at.
                let (next, first) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
                let encoded = encoded.clone();
                let (mount, started_at, clock) = (mount.clone(), started_at.clone(), clock.clone());
                let duration = gst::ClockTime::from_nseconds(
                    (frame_duration(encoded.fps).nseconds() as f64 / speed) as u64,
                );
                src.set_callbacks(
                    gst_app::AppSrcCallbacks::builder()
                        .need_data(move |src, _| {
                            let mut n = next.fetch_add(1, Ordering::Relaxed);
                            if n == 0 {
                                let now = SystemTime::now();
                                // A linked stream begins where its group's clock is.
                                let begun = clock.as_ref().map_or(now, |c| {
                                    *c.lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .get_or_insert(now)
                                });
                                let behind = now.duration_since(begun).unwrap_or_default();
                                n = (behind.as_secs_f64() * f64::from(encoded.fps) * speed).round()
                                    as u64;
                                next.store(n + 1, Ordering::Relaxed);
                                first.store(n, Ordering::Relaxed);
                                if let Ok(mut started) = started_at.lock() {
                                    started.insert(mount.clone(), begun);
                                }
                            }
                            let unit = &encoded.units[(n % encoded.units.len() as u64) as usize];
                            let mut buffer = unit.copy();
                            // Timed from this media's start, which the sink paces by: a linked
                            // stream that began at frame n sends it now, not n frames late.
                            let since = n - first.load(Ordering::Relaxed);
                            if let Some(b) = buffer.get_mut() {
                                b.set_pts(duration * since);
                                b.set_dts(duration * since);
                                b.set_duration(duration);
                            }
                            let _ = src.push_buffer(buffer);
                        })
                        .build(),
                );
            });
            let path = format!("/{name}");
            mounts.add_factory(&path, factory);
            names.push(name);
        }
        let context = gst::glib::MainContext::new();
        let main_loop = gst::glib::MainLoop::new(Some(&context), false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let main_loop = main_loop.clone();
            let context = context.clone();
            let server = server.clone();
            thread::Builder::new()
                .name("rtsp-server".into())
                .spawn(move || {
                    let attached = context
                        .with_thread_default(|| {
                            server
                                .attach(Some(&context))
                                .map(|id| (id, server.bound_port()))
                        })
                        .map_err(|e| anyhow!("{e}"))
                        .and_then(|r| r.map_err(|e| anyhow!("binding the rtsp server: {e}")));
                    match attached {
                        Ok((source, port)) => {
                            let _ = ready_tx.send(Ok(port));
                            main_loop.run();
                            // Stop listening, so a server started after this one may take the
                            // port.
                            if let Some(s) = context.find_source_by_id(&source) {
                                s.destroy();
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })
                .context("starting the rtsp thread")?
        };
        let port = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("rtsp server did not start")??;
        Ok(Self {
            addr: SocketAddr::new(bind.ip(), u16::try_from(port).unwrap_or(bind.port())),
            server,
            main_loop,
            thread: Some(thread),
            mounts: names,
            started,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of a served stream.
    pub fn url(&self, name: &str) -> String {
        format!("rtsp://{}/{name}", self.addr)
    }

    pub fn names(&self) -> &[String] {
        &self.mounts
    }

    /// When the stream at `name` last began from its first frame (a client asked for it and
    /// the shared media started; for a linked stream, when its group's clock started); `None`
    /// before anyone has played it. Frame `n` of the stream
    /// goes out `n / fps / speed` seconds later, which places its events on the wall clock.
    pub fn started_at(&self, name: &str) -> Option<SystemTime> {
        self.started.lock().ok()?.get(name).copied()
    }

    /// Runs until the process is stopped.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        // Hang up on every client (their streams stop), then stop serving.
        let _ = self
            .server
            .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
