//! Road users as 3-D shapes: boxes in the vehicle's own frame (x right, y forward, z up, the
//! origin at the centre of the footprint), round heads, and where the plates are mounted.

use serde::{Deserialize, Serialize};

use crate::{geom::Vec3, plate::PlateSpec, rng::Rng};

/// What the detector is trained to find; the order is the class id in dataset labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    Car,
    Motorbike,
    Bus,
    Truck,
    Person,
}

impl ObjectClass {
    pub const ALL: [Self; 5] = [
        Self::Car,
        Self::Motorbike,
        Self::Bus,
        Self::Truck,
        Self::Person,
    ];

    /// The class id in detection labels (`classes.txt` order).
    pub fn id(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Car => "car",
            Self::Motorbike => "motorbike",
            Self::Bus => "bus",
            Self::Truck => "truck",
            Self::Person => "person",
        }
    }

    /// The vehicle class of the wire contract; `None` for pedestrians.
    pub fn vehicle(self) -> Option<protocol::VehicleClass> {
        match self {
            Self::Car => Some(protocol::VehicleClass::Car),
            Self::Motorbike => Some(protocol::VehicleClass::Motorbike),
            Self::Bus => Some(protocol::VehicleClass::Bus),
            Self::Truck => Some(protocol::VehicleClass::Truck),
            Self::Person => None,
        }
    }

    /// Length, width and height, metres.
    pub fn size_m(self) -> (f32, f32, f32) {
        match self {
            Self::Car => (4.5, 1.8, 1.45),
            Self::Motorbike => (1.9, 0.7, 1.75),
            Self::Bus => (11.0, 2.5, 3.2),
            Self::Truck => (7.0, 2.3, 3.0),
            Self::Person => (0.3, 0.5, 1.72),
        }
    }
}

/// What a part is made of: it decides shading, gloss and light at night.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Material {
    Paint,
    Glass,
    Rubber,
    Cloth,
    Skin,
    /// A lamp that glows at night: rear lamps red, head lamps white.
    Lamp,
}

/// One box of a shape.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub min: Vec3,
    pub max: Vec3,
    pub colour: [u8; 3],
    pub material: Material,
}

/// A head, drawn round: bare (hair on top) or in a helmet.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub centre: Vec3,
    pub radius: f32,
    pub helmet: Option<[u8; 3]>,
}

/// Which end of the vehicle a plate is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Rear,
    Front,
}

/// A plate on the vehicle: the centre of its face and its size.
#[derive(Debug, Clone, Copy)]
pub struct PlateMount {
    pub centre: Vec3,
    pub end: End,
    pub width_m: f32,
    pub height_m: f32,
}

/// A road user's shape.
#[derive(Debug, Clone)]
pub struct Shape {
    pub class: ObjectClass,
    pub parts: Vec<Part>,
    pub heads: Vec<Head>,
    pub plates: Vec<PlateMount>,
    pub length: f32,
}

const PAINTS: [[u8; 3]; 9] = [
    [235, 235, 235],
    [190, 192, 196],
    [40, 40, 44],
    [170, 30, 30],
    [30, 60, 140],
    [110, 112, 118],
    [205, 190, 160],
    [20, 90, 60],
    [230, 170, 40],
];
const CLOTHES: [[u8; 3]; 8] = [
    [30, 30, 35],
    [200, 200, 205],
    [40, 70, 140],
    [140, 40, 40],
    [70, 110, 70],
    [210, 180, 60],
    [90, 60, 120],
    [150, 120, 90],
];
const HELMETS: [[u8; 3]; 7] = [
    [240, 240, 240],
    [200, 30, 30],
    [30, 70, 170],
    [235, 200, 40],
    [25, 25, 28],
    [230, 120, 160],
    [60, 160, 90],
];
const SKIN: [[u8; 3]; 3] = [[224, 182, 150], [196, 150, 112], [160, 115, 85]];
const GLASS: [u8; 3] = [38, 48, 60];
const TYRE: [u8; 3] = [22, 22, 24];
const REAR_LAMP: [u8; 3] = [200, 30, 30];
const HEAD_LAMP: [u8; 3] = [240, 240, 225];

fn part(min: [f32; 3], max: [f32; 3], colour: [u8; 3], material: Material) -> Part {
    Part {
        min: Vec3::new(min[0], min[1], min[2]),
        max: Vec3::new(max[0], max[1], max[2]),
        colour,
        material,
    }
}

/// Mirror-pair of parts on both sides of the centre line.
fn pair(out: &mut Vec<Part>, x: [f32; 2], y: [f32; 2], z: [f32; 2], colour: [u8; 3], m: Material) {
    out.push(part([x[0], y[0], z[0]], [x[1], y[1], z[1]], colour, m));
    out.push(part([-x[1], y[0], z[0]], [-x[0], y[1], z[1]], colour, m));
}

/// Builds the shape of one road user. `helmets` says, per rider, whether a helmet is worn;
/// a motorbike has one or two riders.
pub fn build(
    class: ObjectClass,
    rng: &mut Rng,
    plate: Option<&PlateSpec>,
    helmets: &[bool],
) -> Shape {
    let (length, width, height) = class.size_m();
    let (hl, hw) = (length / 2.0, width / 2.0);
    let paint = *rng.pick(&PAINTS);
    let mut parts = Vec::new();
    let mut heads = Vec::new();
    let plate_size = plate.map(|p| {
        let (w, h) = p.size_mm();
        (w / 1000.0, h / 1000.0)
    });
    let mut plates = Vec::new();
    let mut mount = |end: End, y: f32, z: f32| {
        if let Some((w, h)) = plate_size {
            plates.push(PlateMount {
                centre: Vec3::new(0.0, y, z),
                end,
                width_m: w,
                height_m: h,
            });
        }
    };
    match class {
        ObjectClass::Car => {
            let cabin_rear = -hl + rng.range(0.9, 1.3);
            let cabin_front = hl - rng.range(1.3, 1.7);
            parts.push(part(
                [-hw, -hl, 0.05],
                [hw, hl, 0.78],
                paint,
                Material::Paint,
            ));
            parts.push(part(
                [-hw + 0.08, cabin_rear, 0.78],
                [hw - 0.08, cabin_front, height],
                paint,
                Material::Paint,
            ));
            parts.push(part(
                [-hw + 0.15, cabin_rear - 0.02, 0.84],
                [hw - 0.15, cabin_rear + 0.05, height - 0.06],
                GLASS,
                Material::Glass,
            ));
            parts.push(part(
                [-hw + 0.15, cabin_front - 0.05, 0.84],
                [hw - 0.15, cabin_front + 0.02, height - 0.06],
                GLASS,
                Material::Glass,
            ));
            pair(
                &mut parts,
                [hw - 0.1, hw - 0.06],
                [cabin_rear + 0.15, cabin_front - 0.15],
                [0.86, height - 0.08],
                GLASS,
                Material::Glass,
            );
            pair(
                &mut parts,
                [hw - 0.02, hw + 0.04],
                [-hl + 0.55, -hl + 1.2],
                [0.0, 0.64],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.02, hw + 0.04],
                [hl - 1.3, hl - 0.65],
                [0.0, 0.64],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.35, hw - 0.05],
                [-hl - 0.02, -hl + 0.01],
                [0.55, 0.7],
                REAR_LAMP,
                Material::Lamp,
            );
            pair(
                &mut parts,
                [hw - 0.35, hw - 0.05],
                [hl - 0.01, hl + 0.02],
                [0.5, 0.64],
                HEAD_LAMP,
                Material::Lamp,
            );
            mount(End::Rear, -hl - 0.03, 0.4);
            mount(End::Front, hl + 0.03, 0.33);
        }
        ObjectClass::Bus => {
            let paint = *rng.pick(&[
                [30, 130, 70],
                [235, 235, 235],
                [230, 180, 30],
                [40, 90, 170],
            ]);
            parts.push(part(
                [-hw, -hl, 0.05],
                [hw, hl, height],
                paint,
                Material::Paint,
            ));
            parts.push(part(
                [-hw + 0.2, -hl - 0.02, 1.6],
                [hw - 0.2, -hl + 0.02, 2.8],
                GLASS,
                Material::Glass,
            ));
            parts.push(part(
                [-hw + 0.1, hl - 0.02, 1.1],
                [hw - 0.1, hl + 0.02, 2.9],
                GLASS,
                Material::Glass,
            ));
            pair(
                &mut parts,
                [hw - 0.02, hw + 0.02],
                [-hl + 0.8, hl - 1.2],
                [1.5, 2.7],
                GLASS,
                Material::Glass,
            );
            pair(
                &mut parts,
                [hw - 0.05, hw + 0.03],
                [-hl + 1.6, -hl + 2.7],
                [0.0, 1.0],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.05, hw + 0.03],
                [hl - 3.0, hl - 1.9],
                [0.0, 1.0],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.3, hw - 0.05],
                [-hl - 0.03, -hl + 0.01],
                [0.5, 0.9],
                REAR_LAMP,
                Material::Lamp,
            );
            pair(
                &mut parts,
                [hw - 0.45, hw - 0.1],
                [hl - 0.01, hl + 0.03],
                [0.5, 0.7],
                HEAD_LAMP,
                Material::Lamp,
            );
            mount(End::Rear, -hl - 0.04, 0.62);
            mount(End::Front, hl + 0.04, 0.45);
        }
        ObjectClass::Truck => {
            let cargo = *rng.pick(&[
                [200, 200, 200],
                [150, 40, 40],
                [40, 60, 120],
                [220, 220, 210],
                [90, 100, 90],
            ]);
            let cab_rear = hl - 1.7;
            parts.push(part(
                [-hw + 0.2, -hl + 0.2, 0.25],
                [hw - 0.2, cab_rear, 0.7],
                TYRE,
                Material::Rubber,
            ));
            parts.push(part(
                [-hw, -hl, 0.7],
                [hw, cab_rear - 0.1, height],
                cargo,
                Material::Paint,
            ));
            parts.push(part(
                [-hw + 0.05, cab_rear, 0.05],
                [hw - 0.05, hl, 2.6],
                paint,
                Material::Paint,
            ));
            parts.push(part(
                [-hw + 0.2, hl - 0.02, 1.5],
                [hw - 0.2, hl + 0.02, 2.4],
                GLASS,
                Material::Glass,
            ));
            pair(
                &mut parts,
                [hw - 0.1, hw + 0.02],
                [-hl + 0.6, -hl + 1.6],
                [0.0, 0.95],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.15, hw - 0.0],
                [hl - 1.5, hl - 0.5],
                [0.0, 0.95],
                TYRE,
                Material::Rubber,
            );
            pair(
                &mut parts,
                [hw - 0.3, hw - 0.05],
                [-hl - 0.03, -hl + 0.01],
                [0.75, 0.95],
                REAR_LAMP,
                Material::Lamp,
            );
            pair(
                &mut parts,
                [hw - 0.4, hw - 0.1],
                [hl - 0.01, hl + 0.03],
                [0.55, 0.75],
                HEAD_LAMP,
                Material::Lamp,
            );
            parts.push(part(
                [-0.25, -hl - 0.02, 0.4],
                [0.25, -hl + 0.1, 0.7],
                [30, 30, 30],
                Material::Paint,
            ));
            mount(End::Rear, -hl - 0.05, 0.55);
            mount(End::Front, hl + 0.04, 0.42);
        }
        ObjectClass::Motorbike => {
            let body = *rng.pick(&PAINTS);
            parts.push(part(
                [-0.05, -hl, 0.0],
                [0.05, -hl + 0.6, 0.6],
                TYRE,
                Material::Rubber,
            ));
            parts.push(part(
                [-0.05, hl - 0.6, 0.0],
                [0.05, hl, 0.6],
                TYRE,
                Material::Rubber,
            ));
            parts.push(part(
                [-0.18, -hl + 0.25, 0.3],
                [0.18, hl - 0.35, 0.72],
                body,
                Material::Paint,
            ));
            parts.push(part(
                [-0.16, -hl + 0.3, 0.72],
                [0.16, -0.05, 0.84],
                [25, 25, 25],
                Material::Cloth,
            ));
            parts.push(part(
                [-0.33, hl - 0.55, 1.0],
                [0.33, hl - 0.5, 1.04],
                [40, 40, 40],
                Material::Paint,
            ));
            parts.push(part(
                [-0.07, -hl + 0.02, 0.6],
                [0.07, -hl + 0.06, 0.66],
                REAR_LAMP,
                Material::Lamp,
            ));
            parts.push(part(
                [-0.07, hl - 0.45, 0.95],
                [0.07, hl - 0.4, 1.05],
                HEAD_LAMP,
                Material::Lamp,
            ));
            parts.push(part(
                [-0.1, -hl + 0.03, 0.62],
                [0.1, -hl + 0.08, 0.8],
                [30, 30, 30],
                Material::Paint,
            ));
            for (i, helmet) in helmets.iter().enumerate().take(2) {
                let y = -0.2 - 0.45 * i as f32;
                let (skin, clothes) = (*rng.pick(&SKIN), *rng.pick(&CLOTHES));
                parts.push(part(
                    [-0.2, y - 0.2, 0.55],
                    [0.2, y + 0.25, 0.92],
                    *rng.pick(&CLOTHES),
                    Material::Cloth,
                ));
                parts.push(part(
                    [-0.21, y - 0.16, 0.9],
                    [0.21, y + 0.12, 1.42],
                    clothes,
                    Material::Cloth,
                ));
                if i == 0 {
                    pair(
                        &mut parts,
                        [0.14, 0.24],
                        [y, hl - 0.55],
                        [1.12, 1.22],
                        clothes,
                        Material::Cloth,
                    );
                }
                parts.push(part(
                    [-0.05, y - 0.05, 1.42],
                    [0.05, y + 0.04, 1.5],
                    skin,
                    Material::Skin,
                ));
                heads.push(Head {
                    centre: Vec3::new(0.0, y - 0.02, 1.6),
                    radius: if *helmet { 0.15 } else { 0.11 },
                    helmet: helmet.then(|| *rng.pick(&HELMETS)),
                });
            }
            mount(End::Rear, -hl - 0.01, 0.71);
        }
        ObjectClass::Person => {
            let clothes = *rng.pick(&CLOTHES);
            pair(
                &mut parts,
                [0.03, 0.17],
                [-0.1, 0.1],
                [0.0, 0.86],
                *rng.pick(&CLOTHES),
                Material::Cloth,
            );
            parts.push(part(
                [-0.22, -0.13, 0.86],
                [0.22, 0.13, 1.45],
                clothes,
                Material::Cloth,
            ));
            pair(
                &mut parts,
                [0.22, 0.3],
                [-0.06, 0.06],
                [0.9, 1.42],
                clothes,
                Material::Cloth,
            );
            parts.push(part(
                [-0.05, -0.05, 1.45],
                [0.05, 0.05, 1.52],
                *rng.pick(&SKIN),
                Material::Skin,
            ));
            heads.push(Head {
                centre: Vec3::new(0.0, 0.0, 1.62),
                radius: 0.11,
                helmet: None,
            });
        }
    }
    Shape {
        class,
        parts,
        heads,
        plates,
        length,
    }
}
