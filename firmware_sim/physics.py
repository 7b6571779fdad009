"""Flat physics, vectorised across flats: heat, moisture and CO2 balances, surface conditions.

Thermal model per flat: two nodes in the spirit of the DS/EN ISO 13790 (ISO 52016-1) simplified
hourly method — an *air* node (room air and furniture) and a *mass* node (concrete walls and
slabs, "medium" class 165 kJ/(m²K), coupling 9.1 W/(m²K) × 2.5 m²/m² floor). Windows,
infiltration and airing act on the air node; opaque envelope and the uninsulated party walls and
slabs to the neighbouring flats act on the mass node. The radiator is a proportional thermostat
(band 2 K as EN 215 rates TRVs) delivering at most ``radiator_w_per_m2`` × area.

Rooms: the air node is the living room; other rooms sit at a fixed temperature offset (bedroom
cooler with its door shut and radiator turned down, bathroom warmer). Moisture (vapour density,
g/m³) and CO2 (ppm) are balanced per room with outdoor air entering every room at the flat's air
change rate and a star-shaped exchange between each room and the living room through the doors.
Sorption in furnishings is represented by an effective moisture capacitance on the room air
(EnergyPlus "humidity capacity multiplier"; ~3–8 for furnished dwellings).

All balances are linear in a packed state vector apart from the thermostat's clipping, so one
step is a handful of array operations (:class:`Operator`). Integration is explicit Euler; every
flow is computed once per sub-step from one state, so the energy balance closes to rounding
(``tests/test_sim_physics.py``). :func:`max_stable_step_s` bounds the sub-step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_sim.scenario import ROOM_AREA_SHARE, Position, RoomKind, Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

RHO_CP_WH_PER_M3K = 1.2 * 1005.0 / 3600.0
"""Volumetric heat capacity of air, Wh/(m³K) (ρ = 1.2 kg/m³, cp = 1005 J/(kgK))."""
R_VAPOUR_J_PER_KGK = 461.5
CO2_OUTDOOR_PPM = 420.0
"""Outdoor CO2 (NOAA global mean ≈ 420 ppm in 2024; DOMAIN.md)."""
C_MASS_J_PER_M2K = 165_000.0  # ISO 13790 table 12, "medium"
H_MASS_W_PER_M2K = 9.1 * 2.5  # ISO 13790 eq. 12: h_ms × A_m, A_m = 2.5 A_f ("medium")
C_AIR_J_PER_M2K = 10_000.0  # furniture and light partitions that follow the air temperature

# Sources (per person or per event).
CO2_AWAKE_LH = 18.0  # L/h, ~1.2 met (EN 16798-1 annex; DOMAIN brief)
CO2_ASLEEP_LH = 12.0  # L/h, ~0.8 met
VAPOUR_AWAKE_GH = 55.0  # g/h, BS 5250:2011 annex / IEA Annex 14: 40–60 g/h awake
VAPOUR_ASLEEP_GH = 40.0  # g/h asleep
VAPOUR_COOKING_GH = 600.0  # g/h while cooking (≈ 0.5–1 kg/day per household, BS 5250)
VAPOUR_SHOWER_GH = 1500.0  # g/h while showering (≈ 200–250 g per shower, BS 5250)
HEAT_AWAKE_W = 70.0  # sensible heat per person seated (ISO 7730 ~1.2 met, ~60 % sensible)
HEAT_ASLEEP_W = 45.0
HEAT_COOKING_W = 800.0  # part of a 1.5–2 kW hob that ends up as room heat while cooking

ROOM_OFFSET_K = {RoomKind.LIVING: 0.0, RoomKind.KITCHEN: 0.0, RoomKind.BATHROOM: 1.0}
ROOM_MIX_M3H = {RoomKind.KITCHEN: 150.0, RoomKind.BEDROOM: 20.0, RoomKind.BATHROOM: 40.0}
"""Air exchanged with the living room through (mostly shut) doors, m³/h."""


def psat_pa(t_c: npt.ArrayLike) -> FloatArray:
    """Saturation vapour pressure over water, Magnus form (Sonntag 1990 coefficients; DOMAIN.md):
    psat = 611.2 · exp(17.62 T / (243.12 + T)) Pa."""
    t = np.asarray(t_c, dtype=np.float64)
    out: FloatArray = 611.2 * np.exp(17.62 * t / (243.12 + t))
    return out


def vapour_density_gm3(t_c: npt.ArrayLike, rh_pct: npt.ArrayLike) -> FloatArray:
    """Water vapour density from temperature and RH (ideal gas: ρv = e / (Rv T))."""
    t = np.asarray(t_c, dtype=np.float64)
    e = np.asarray(rh_pct, dtype=np.float64) / 100.0 * psat_pa(t)
    out: FloatArray = e / (R_VAPOUR_J_PER_KGK * (t + 273.15)) * 1000.0
    return out


def vapour_pressure_pa(t_c: npt.ArrayLike, v_gm3: npt.ArrayLike) -> FloatArray:
    t = np.asarray(t_c, dtype=np.float64)
    out: FloatArray = np.asarray(v_gm3) / 1000.0 * R_VAPOUR_J_PER_KGK * (t + 273.15)
    return out


def surface_conditions(
    t_in_c: npt.ArrayLike, e_pa: npt.ArrayLike, t_out_c: npt.ArrayLike, frsi: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Temperature and RH (capped at 100 %) at a thermal bridge with temperature factor fRsi.

    θsi = θe + fRsi (θi − θe) (DS/EN ISO 13788, DIN 4108-2); RHsi = e / psat(θsi).
    """
    te = np.asarray(t_out_c, dtype=np.float64)
    tsi = te + np.asarray(frsi) * (np.asarray(t_in_c) - te)
    rhsi = np.minimum(100.0 * np.asarray(e_pa) / psat_pa(tsi), 100.0)
    return tsi, rhsi


@dataclass(frozen=True)
class Layout:
    """Static per-flat (F) and per-room (R) parameters derived from a scenario."""

    flat_ids: tuple[str, ...]
    room_names: tuple[tuple[str, str], ...]  # (flat id, room name) per room
    area_m2: FloatArray
    volume_m3: FloatArray
    c_air_j_per_k: FloatArray
    c_mass_j_per_k: FloatArray
    h_air_mass_w_per_k: FloatArray
    ua_air_w_per_k: FloatArray
    ua_mass_w_per_k: FloatArray
    internal_w: FloatArray
    radiator_max_w: FloatArray
    set_point_c: FloatArray
    band_k: float
    air_change_h: FloatArray
    window_air_change_h: float
    frsi: FloatArray
    room_flat: IntArray
    room_volume_m3: FloatArray
    room_offset_k: FloatArray
    moisture_capacity: float
    edge_i: IntArray
    edge_j: IntArray
    edge_w_per_k: FloatArray
    """Party walls and slabs: flats ``i`` and ``j`` exchange ``w`` × (Tj − Ti) through them."""
    room_main: IntArray
    """The living room each room exchanges air with (itself for the living room)."""
    room_mix_m3h: FloatArray
    main_room: IntArray
    bed_room: IntArray
    bath_room: IntArray
    kitchen_room: IntArray
    laundry_room: IntArray
    bridge_room: IntArray

    @property
    def n_flats(self) -> int:
        return len(self.flat_ids)


def build_layout(scenario: Scenario) -> Layout:
    """Turn a scenario into the arrays :func:`step` uses."""
    ph = scenario.physics
    flats = scenario.flats
    area = np.array([f.area_m2 for f in flats])
    volume = area * ph.ceiling_height_m
    extra = np.array([sum(ph.ua_extra_w_per_m2k[p] for p in set(f.position)) for f in flats])
    ua_facade = ph.ua_facade_w_per_m2k * area
    ua_air = ua_facade * ph.window_share
    ua_mass = ua_facade * (1 - ph.window_share) + extra * area
    # Ground floor couples to an unheated basement (b ≈ 0.5, DS/EN ISO 13370 simplified).
    is_ground = np.array([Position.GROUND in f.position for f in flats])
    ua_mass = ua_mass - np.where(is_ground, 0.5 * ph.ua_extra_w_per_m2k[Position.GROUND] * area, 0)

    cell = {(f.floor, f.column): k for k, f in enumerate(flats)}
    ei: list[int] = []
    ej: list[int] = []
    eg: list[float] = []
    wall_w_per_k = ph.u_party_wall_w_per_m2k * ph.depth_m * ph.ceiling_height_m
    for k, f in enumerate(flats):
        right = cell.get((f.floor, f.column + 1))
        if right is not None:
            ei.append(k)
            ej.append(right)
            eg.append(wall_w_per_k)
        above = cell.get((f.floor + 1, f.column))
        if above is not None:
            ei.append(k)
            ej.append(above)
            eg.append(ph.u_slab_w_per_m2k * min(f.area_m2, flats[above].area_m2))

    room_flat: list[int] = []
    room_main: list[int] = []
    room_vol: list[float] = []
    room_off: list[float] = []
    room_mix: list[float] = []
    room_names: list[tuple[str, str]] = []
    main: list[int] = []
    bed: list[int] = []
    bath: list[int] = []
    kitchen: list[int] = []
    laundry: list[int] = []
    bridge: list[int] = []
    for k, f in enumerate(flats):
        profile = scenario.profiles[f.profile]
        first = len(room_flat)
        by_kind: dict[RoomKind, int] = {}
        for r in f.rooms:
            idx = len(room_flat)
            by_kind.setdefault(r.kind, idx)
            room_flat.append(k)
            room_main.append(first)
            share = ROOM_AREA_SHARE[r.kind]
            room_vol.append((r.area_m2 or share * f.area_m2) * ph.ceiling_height_m)
            offset = profile.bedroom_offset_k if r.kind is RoomKind.BEDROOM else 0.0
            room_off.append(0.0 if idx == first else ROOM_OFFSET_K.get(r.kind, offset))
            room_mix.append(0.0 if idx == first else ROOM_MIX_M3H.get(r.kind, 60.0))
            room_names.append((f.id, r.name))
            if r.name == f.bridge_room:
                bridge.append(idx)
        main.append(first)
        bed.append(by_kind.get(RoomKind.BEDROOM, first))
        bath.append(by_kind.get(RoomKind.BATHROOM, first))
        kitchen.append(by_kind.get(RoomKind.KITCHEN, first))
        laundry.append(by_kind.get(profile.laundry_room, first))

    def ints(x: list[int]) -> IntArray:
        return np.array(x, dtype=np.int64)

    set_points = [
        f.set_point_c if f.set_point_c is not None else scenario.profiles[f.profile].set_point_c
        for f in flats
    ]
    return Layout(
        flat_ids=tuple(f.id for f in flats),
        room_names=tuple(room_names),
        area_m2=area,
        volume_m3=volume,
        c_air_j_per_k=volume * 1200.0 + C_AIR_J_PER_M2K * area,
        c_mass_j_per_k=C_MASS_J_PER_M2K * area,
        h_air_mass_w_per_k=H_MASS_W_PER_M2K * area,
        ua_air_w_per_k=ua_air,
        ua_mass_w_per_k=ua_mass,
        internal_w=ph.internal_gain_w_per_m2 * area,
        radiator_max_w=ph.radiator_w_per_m2 * area,
        set_point_c=np.array(set_points, dtype=np.float64),
        band_k=ph.thermostat_band_k,
        air_change_h=np.array([scenario.profiles[f.profile].air_change_h for f in flats]),
        window_air_change_h=ph.window_air_change_h,
        frsi=np.array([f.frsi for f in flats]),
        room_flat=ints(room_flat),
        room_volume_m3=np.array(room_vol),
        room_offset_k=np.array(room_off),
        moisture_capacity=ph.moisture_capacity,
        edge_i=ints(ei),
        edge_j=ints(ej),
        edge_w_per_k=np.array(eg, dtype=np.float64),
        room_main=ints(room_main),
        room_mix_m3h=np.array(room_mix),
        main_room=ints(main),
        bed_room=ints(bed),
        bath_room=ints(bath),
        kitchen_room=ints(kitchen),
        laundry_room=ints(laundry),
        bridge_room=ints(bridge),
    )


def max_stable_step_s(layout: Layout) -> float:
    """Largest explicit-Euler sub-step that stays well inside stability (half the shortest
    time constant, windows wide open)."""
    n_max = layout.air_change_h + layout.window_air_change_h
    g_air = (
        layout.ua_air_w_per_k
        + RHO_CP_WH_PER_M3K * n_max * layout.volume_m3
        + layout.h_air_mass_w_per_k
    )
    tau_air = layout.c_air_j_per_k / g_air
    f = layout.n_flats
    nb = np.bincount(layout.edge_i, layout.edge_w_per_k, f) + np.bincount(
        layout.edge_j, layout.edge_w_per_k, f
    )
    tau_mass = layout.c_mass_j_per_k / (layout.h_air_mass_w_per_k + layout.ua_mass_w_per_k + nb)
    r = len(layout.room_flat)
    inflow = np.bincount(layout.room_main, layout.room_mix_m3h, r)
    q_room = n_max[layout.room_flat] * layout.room_volume_m3 + layout.room_mix_m3h + inflow
    tau_room = 3600.0 * layout.room_volume_m3 / q_room
    return 0.5 * float(min(tau_air.min(), tau_mass.min(), tau_room.min()))


@dataclass(frozen=True)
class State:
    """Packed state ``x = [t_air (F), t_mass (F), vapour (R), co2 (R)]``."""

    x: FloatArray
    n_flats: int

    @property
    def t_air_c(self) -> FloatArray:
        """Living-room air temperature per flat."""
        return self.x[: self.n_flats]

    @property
    def t_mass_c(self) -> FloatArray:
        return self.x[self.n_flats : 2 * self.n_flats]

    @property
    def vapour_gm3(self) -> FloatArray:
        n_r = (len(self.x) - 2 * self.n_flats) // 2
        return self.x[2 * self.n_flats : 2 * self.n_flats + n_r]

    @property
    def co2_ppm(self) -> FloatArray:
        n_r = (len(self.x) - 2 * self.n_flats) // 2
        return self.x[2 * self.n_flats + n_r :]

    def energy_j(self, layout: Layout) -> FloatArray:
        """Heat stored per flat relative to 0 °C."""
        out: FloatArray = (
            layout.c_air_j_per_k * self.t_air_c + layout.c_mass_j_per_k * self.t_mass_c
        )
        return out


def initial_state(layout: Layout, t_out_c: float, v_out_gm3: float) -> State:
    """Flats at their set point, mass a little cooler, air at ~40 % RH, CO2 at 600 ppm."""
    t = layout.set_point_c.copy()
    room_t = t[layout.room_flat] + layout.room_offset_k
    v = np.maximum(vapour_density_gm3(room_t, 40.0), v_out_gm3)
    tm = t - 0.3 * (t - t_out_c) / 20.0
    co2 = np.full(len(layout.room_flat), 600.0)
    return State(np.concatenate([t, tm, v, co2]), layout.n_flats)


@dataclass(frozen=True)
class Operator:
    """The balances on the packed state, per second:

    dx/dt = A x + a_te θe + g ⊙ (x_out − x) + s,   g = g0 ⊙ n[flat of element]

    A holds the constant conductances (envelope, air–mass, party walls, door exchange), g the
    air-change-driven exchange with outdoor air (n in h⁻¹), s the sources (radiator, gains,
    moisture, CO2) divided by the node capacities.
    """

    a_rows: IntArray
    a_cols: IntArray
    a_vals: FloatArray
    """A in coordinate form (sparse: a few entries per row), so a step costs O(flats)."""
    a_te: FloatArray
    g0: FloatArray
    flat_of: IntArray
    masks: FloatArray
    """(3, N): outdoor temperature, vapour density and CO2 spread over the packed state."""
    inv_c_air: FloatArray


def build_operator(lay: Layout) -> Operator:
    f, r = lay.n_flats, len(lay.room_flat)
    n = 2 * f + 2 * r
    ta, tm = slice(0, f), slice(f, 2 * f)
    rv, rc = slice(2 * f, 2 * f + r), slice(2 * f + r, n)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []

    def add(r_: IntArray, c_: IntArray, v_: FloatArray) -> None:
        rows.append(r_)
        cols.append(c_)
        vals.append(v_)

    idx = np.arange(f)
    c_air, c_mass, h_am = lay.c_air_j_per_k, lay.c_mass_j_per_k, lay.h_air_mass_w_per_k
    add(idx, idx, -(lay.ua_air_w_per_k + h_am) / c_air)
    add(idx, f + idx, h_am / c_air)
    add(f + idx, idx, h_am / c_mass)
    add(f + idx, f + idx, -(h_am + lay.ua_mass_w_per_k) / c_mass)
    ei, ej, g = lay.edge_i, lay.edge_j, lay.edge_w_per_k
    add(f + ei, f + ej, g / c_mass[ei])
    add(f + ei, f + ei, -g / c_mass[ei])
    add(f + ej, f + ei, g / c_mass[ej])
    add(f + ej, f + ej, -g / c_mass[ej])
    k = np.flatnonzero(lay.room_main != np.arange(r))
    m, q = lay.room_main[k], lay.room_mix_m3h[k]
    for offset, cap in ((2 * f, lay.moisture_capacity), (2 * f + r, 1.0)):
        v = 3600.0 * lay.room_volume_m3 * cap
        add(offset + k, offset + m, q / v[k])
        add(offset + k, offset + k, -q / v[k])
        add(offset + m, offset + k, q / v[m])
        add(offset + m, offset + m, -q / v[m])
    a_te = np.zeros(n)
    a_te[ta] = lay.ua_air_w_per_k / lay.c_air_j_per_k
    a_te[tm] = lay.ua_mass_w_per_k / lay.c_mass_j_per_k
    g0 = np.zeros(n)
    g0[ta] = RHO_CP_WH_PER_M3K * lay.volume_m3 / lay.c_air_j_per_k
    g0[rv] = 1.0 / (3600.0 * lay.moisture_capacity)
    g0[rc] = 1.0 / 3600.0
    masks = np.zeros((3, n))
    masks[0, ta] = 1.0
    masks[1, rv] = 1.0
    masks[2, rc] = 1.0
    return Operator(
        a_rows=np.concatenate(rows),
        a_cols=np.concatenate(cols),
        a_vals=np.concatenate(vals),
        a_te=a_te,
        g0=g0,
        flat_of=np.concatenate([idx, idx, lay.room_flat, lay.room_flat]),
        masks=masks,
        inv_c_air=1.0 / lay.c_air_j_per_k,
    )


def gains_w(
    lay: Layout, awake: FloatArray, sleeping: FloatArray, cooking: FloatArray
) -> FloatArray:
    """Internal heat gains per flat, W (works on (F,) or (F, T) arrays)."""
    base = lay.internal_w if awake.ndim == 1 else lay.internal_w[:, None]
    out: FloatArray = (
        base + HEAT_AWAKE_W * awake + HEAT_ASLEEP_W * sleeping + HEAT_COOKING_W * cooking
    )
    return out


def sources(
    lay: Layout,
    awake: FloatArray,
    sleeping: FloatArray,
    cooking: FloatArray,
    showering: FloatArray,
    laundry_gh: FloatArray,
) -> FloatArray:
    """The source term ``s`` without the radiator, for (F,) inputs or (F, T) tables.

    Moisture and CO2 are placed where the activity happens: people awake in the living room,
    asleep in the bedroom, cooking in the kitchen, showers in the bathroom, laundry where the
    profile puts the rack.
    """
    r = len(lay.room_flat)
    vap = np.zeros((r, *awake.shape[1:]))
    co2 = np.zeros_like(vap)
    for rooms, vapour_gh, co2_lh in (
        (lay.main_room, VAPOUR_AWAKE_GH * awake, CO2_AWAKE_LH * awake),
        (lay.bed_room, VAPOUR_ASLEEP_GH * sleeping, CO2_ASLEEP_LH * sleeping),
        (lay.kitchen_room, VAPOUR_COOKING_GH * cooking, None),
        (lay.bath_room, VAPOUR_SHOWER_GH * showering, None),
        (lay.laundry_room, laundry_gh, None),
    ):
        vap[rooms] += vapour_gh  # one room per flat in each group: no repeated indices
        if co2_lh is not None:
            co2[rooms] += 1000.0 * co2_lh  # L/h → ppm·m³/h
    shape = (-1, 1) if awake.ndim == 2 else (-1,)
    vol = lay.room_volume_m3.reshape(shape)
    out: FloatArray = np.concatenate(
        [
            gains_w(lay, awake, sleeping, cooking) / lay.c_air_j_per_k.reshape(shape),
            np.zeros_like(awake),
            vap / (3600.0 * vol * lay.moisture_capacity),
            co2 / (3600.0 * vol),
        ]
    )
    return out


@dataclass(frozen=True)
class Inputs:
    """Everything from outside the physics for one sub-step."""

    t_out_c: float
    v_out_gm3: float
    window: FloatArray  # (F,) open fraction 0..1
    source: FloatArray  # (N,) from :func:`sources`
    set_point_c: FloatArray  # (F,)


def neighbour_heat_w(lay: Layout, t_mass_c: FloatArray) -> FloatArray:
    """Heat each flat receives through party walls and slabs, W (sums to zero)."""
    q = lay.edge_w_per_k * (t_mass_c[lay.edge_j] - t_mass_c[lay.edge_i])
    f = lay.n_flats
    received = np.bincount(lay.edge_i, q, f) - np.bincount(lay.edge_j, q, f)
    return received.astype(np.float64)


def radiator_w(lay: Layout, t_air_c: FloatArray, set_point_c: FloatArray) -> FloatArray:
    """Proportional thermostat: half power at the set point, full power ``band/2`` below it
    (EN 215 nominal band xp = 2 K)."""
    valve = np.minimum(np.maximum(0.5 + (set_point_c - t_air_c) / lay.band_k, 0.0), 1.0)
    out: FloatArray = lay.radiator_max_w * valve
    return out


def air_change_h(lay: Layout, window: FloatArray) -> FloatArray:
    out: FloatArray = lay.air_change_h + lay.window_air_change_h * window
    return out


def step(
    lay: Layout, op: Operator, state: State, u: Inputs, h_s: float
) -> tuple[State, FloatArray, FloatArray]:
    """Advance ``h_s`` seconds (≤ :func:`max_stable_step_s`); returns the new state and the
    radiator power (W) and air change rate (h⁻¹) used over the step."""
    x = state.x
    f = lay.n_flats
    rad = radiator_w(lay, x[:f], u.set_point_c)
    ach = lay.air_change_h + lay.window_air_change_h * u.window
    x_out = np.dot((u.t_out_c, u.v_out_gm3, CO2_OUTDOOR_PPM), op.masks)
    ax = np.bincount(op.a_rows, op.a_vals * x[op.a_cols], len(x))
    dx = ax + op.a_te * u.t_out_c + op.g0 * ach[op.flat_of] * (x_out - x) + u.source
    dx[:f] += rad * op.inv_c_air
    return State(x + h_s * dx, f), rad, ach


def room_temperatures(layout: Layout, state: State) -> FloatArray:
    out: FloatArray = state.t_air_c[layout.room_flat] + layout.room_offset_k
    return out
