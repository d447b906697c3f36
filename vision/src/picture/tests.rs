use super::*;

fn scene(w: u32, h: u32) -> RgbImage {
    // Smooth colour ramps with a soft blob: what cameras see between edges.
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let d2 = (fx - 0.5).powi(2) + (fy - 0.5).powi(2);
        let disc = (-d2 * 20.0).exp() * 60.0;
        // Within 20–230 everywhere: no channel clipped.
        image::Rgb([
            (30.0 + 140.0 * fx + disc) as u8,
            (40.0 + 150.0 * fy) as u8,
            (200.0 - 150.0 * fx * fy + disc / 2.0) as u8,
        ])
    })
}

fn max_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(p, q)| p.abs_diff(*q))
        .max()
        .unwrap_or(0)
}

#[test]
fn planes_come_back_as_the_colours_they_were_made_from() {
    let img = scene(64, 48);
    for colour in [
        Colour::BT601,
        Colour::BT709,
        Colour::BT2020,
        Colour::BT709.full(),
    ] {
        let yuv = Yuv420::from_rgb(&img, colour);
        let back = yuv.to_rgb();
        // Studio range and 4:2:0 lose a little (a chroma step is 2 levels of blue in
        // BT.709), the most in a corner, where chroma is not extrapolated past its last
        // sample; a wrong matrix or range would be tens of levels off.
        let worst = max_difference(&img, &back);
        let mean = img
            .as_raw()
            .iter()
            .zip(back.as_raw())
            .map(|(p, q)| f32::from(p.abs_diff(*q)))
            .sum::<f32>()
            / img.as_raw().len() as f32;
        assert!(
            worst <= 5 && mean <= 1.0,
            "{colour:?}: worst {worst}, mean {mean}"
        );
    }
}

#[test]
fn known_colours_convert_by_the_standard() {
    // BT.709 studio range: black 16/128/128, white 235/128/128, pure red 63/102/240.
    let plane = |v: u8, n: usize| vec![v; n];
    let one = |y: u8, u: u8, v: u8| {
        Yuv420::new(
            (2, 2),
            [plane(y, 4), plane(u, 1), plane(v, 1)],
            Colour::BT709,
            Siting::MPEG2,
        )
        .expect("sized")
        .to_rgb()
        .get_pixel(0, 0)
        .0
    };
    assert_eq!(one(16, 128, 128), [0, 0, 0]);
    assert_eq!(one(235, 128, 128), [255, 255, 255]);
    let red = one(63, 102, 240);
    assert!(red[0] >= 253 && red[1] <= 2 && red[2] <= 2, "{red:?}");
}

#[test]
fn a_crop_is_the_same_part_of_the_whole() {
    let yuv = Yuv420::from_rgb(&scene(50, 30), Colour::BT709);
    let whole = yuv.to_rgb();
    let part = yuv.crop_rgb(7, 5, 20, 11);
    let expected = image::imageops::crop_imm(&whole, 7, 5, 20, 11).to_image();
    assert_eq!(part, expected);
    // Clipped at the edges, never past them.
    assert_eq!(yuv.crop_rgb(45, 25, 20, 20).dimensions(), (5, 5));
    assert_eq!(yuv.crop_rgb(60, 40, 5, 5).dimensions(), (0, 0));
    // A picture converted whole crops the same.
    let picture = Picture::from_yuv(yuv);
    let before = picture.crop_rgb(7, 5, 20, 11);
    assert!(!picture.has_rgb(), "a crop converts only the crop");
    assert_eq!(picture.rgb(), &whole);
    assert_eq!(picture.crop_rgb(7, 5, 20, 11), before);
}

#[test]
fn sampling_planes_gives_what_sampling_their_rgb_gives() {
    // A 2.7× reduction with positions between pixels, as a detector's letterbox samples.
    let yuv = Yuv420::from_rgb(&scene(160, 90), Colour::BT709);
    let rgb = yuv.to_rgb();
    let xs: Vec<f32> = (0..59).map(|i| (i as f32 + 0.5) * 2.7 - 0.5).collect();
    let ys: Vec<f32> = (0..33).map(|i| (i as f32 + 0.5) * 2.7 - 0.5).collect();
    let mut worst = 0.0f32;
    let mut from_rgb = vec![[0.0f32; 3]; xs.len() * ys.len()];
    Pixels::Rgb(&rgb).sample_grid(&xs, &ys, |c, r, v| from_rgb[r * xs.len() + c] = v);
    Pixels::Yuv(&yuv).sample_grid(&xs, &ys, |c, r, v| {
        let w = from_rgb[r * xs.len() + c];
        for k in 0..3 {
            worst = worst.max((v[k] - w[k]).abs());
        }
    });
    assert!(worst <= 1.5, "largest difference {worst}");
}

#[test]
fn planes_of_the_wrong_size_are_refused() {
    let e = Yuv420::new(
        (5, 3),
        [vec![0; 15], vec![0; 5], vec![0; 6]],
        Colour::BT709,
        Siting::MPEG2,
    )
    .expect_err("chroma of 3×2 needs 6 bytes");
    assert_eq!((e.luma, e.chroma), (15, 6));
}
