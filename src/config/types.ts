/**
 * The typed form of a host description file (docs/host-file.md). Every record keeps where it and
 * each of its given keys' values start in the file (`src`), so that later checks can point at the
 * offending node. PCI addresses are canonical ("0000:01:00.0"), sizes are bytes.
 */
import type { VfPortConfig } from "../nic/port-config.js";

/** 1-based line and column (UTF-16 code units) in the host file. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** Where a record starts (`at`) and where the value of each key it was given starts. */
export interface Src<K extends string> {
  readonly at: Pos;
  readonly fields: Readonly<Partial<Record<K, Pos>>>;
}

/** NIC templates built into pciov. Pass a longer list in ParseOptions.templates to add your own. */
export const BUILTIN_NIC_TEMPLATES = ["intel-82576", "intel-82599", "intel-x710", "intel-e810", "mlx-cx5"] as const;
export type BuiltinNicTemplate = (typeof BUILTIN_NIC_TEMPLATES)[number];

/** Link speeds by PCIe generation 1..5 (Link Capabilities' Max Link Speed encodings 1..5). */
export const LINK_SPEEDS = ["2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s"] as const;
export type LinkSpeed = (typeof LINK_SPEEDS)[number];
export const LINK_WIDTHS = [1, 2, 4, 8, 16] as const;
export type LinkWidth = (typeof LINK_WIDTHS)[number];

export const IOMMU_PAGE_SIZES = ["4K", "2M", "1G", "auto"] as const;
export type IommuPageSize = (typeof IOMMU_PAGE_SIZES)[number];
export const IOMMU_INVALIDATION_MODES = ["strict", "deferred"] as const;
export type IommuInvalidation = (typeof IOMMU_INVALIDATION_MODES)[number];
/** VT-d second-level page-table depth: 3 levels = 39-bit, 4 levels = 48-bit input addresses. */
export const IOMMU_ADDRESS_WIDTHS = [39, 48] as const;
export type IommuAddressWidth = (typeof IOMMU_ADDRESS_WIDTHS)[number];

export interface HostConfig {
  readonly name: string;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly src: Src<"name" | "memory" | "cpus">;
}

export interface IommuConfig {
  readonly enabled: boolean;
  readonly pageSize: IommuPageSize;
  readonly invalidation: IommuInvalidation;
  readonly postedInterrupts: boolean;
  readonly addressWidth: IommuAddressWidth;
  readonly iotlbEntries: number;
  readonly src: Src<"enabled" | "pageSize" | "invalidation" | "postedInterrupts" | "addressWidth" | "iotlbEntries">;
}

/** A port's maximum link (Link Capabilities); the trained link is the lower of both ends, per field. */
export interface LinkConfig {
  readonly speed: LinkSpeed;
  readonly width: LinkWidth;
  readonly src: Src<"speed" | "width">;
}

export type DeviceSpec =
  | {
      readonly kind: "template";
      readonly template: string;
      readonly src: Src<"template">;
    }
  | {
      readonly kind: "dump";
      /** The path as written. */
      readonly dump: string;
      /** `dump` resolved against the host file's directory. */
      readonly dumpPath: string;
      /** Which function of the dump (canonical BDF); undefined = the first one in the file. */
      readonly function: string | undefined;
      readonly src: Src<"dump" | "function">;
    };

export interface DownstreamPortConfig {
  readonly acs: boolean;
  readonly link: LinkConfig;
  readonly device: DeviceSpec | undefined;
  readonly src: Src<"acs" | "link" | "device">;
}

export interface SwitchConfig {
  readonly acs: boolean;
  /** The upstream port's link. */
  readonly link: LinkConfig;
  readonly ports: readonly DownstreamPortConfig[];
  readonly src: Src<"acs" | "link" | "ports">;
}

export interface RootPortConfig {
  /** Device number on bus 0: the root port is 0000:00:<slot>.0. */
  readonly slot: number;
  readonly acs: boolean;
  readonly link: LinkConfig;
  /** At most one of device and switch. */
  readonly device: DeviceSpec | undefined;
  readonly switch: SwitchConfig | undefined;
  readonly src: Src<"slot" | "acs" | "link" | "device" | "switch">;
}

/** A root-complex integrated endpoint at 0000:00:<slot>.0. */
export interface IntegratedConfig {
  readonly slot: number;
  readonly device: DeviceSpec;
  readonly src: Src<"slot" | "device">;
}

export interface FabricConfig {
  readonly rootPorts: readonly RootPortConfig[];
  readonly integrated: readonly IntegratedConfig[];
  readonly src: Src<"rootPorts" | "integrated">;
}

/** A sorted set of VF indices and the text it was written as. */
export interface VfSet {
  readonly indices: readonly number[];
  readonly text: string;
}

export type VfSettingsKey =
  | "vf"
  | "mac"
  | "vlan"
  | "qos"
  | "proto"
  | "spoofchk"
  | "trust"
  | "state"
  | "minTxRate"
  | "maxTxRate"
  | "queryRss";

/** Port settings for one or more VFs of a PF; keys not given are left at the driver's defaults. */
export interface VfSettings {
  readonly vfs: VfSet;
  readonly port: Readonly<Partial<VfPortConfig>>;
  readonly src: Src<VfSettingsKey>;
}

export interface PfConfig {
  readonly pf: string;
  readonly numVfs: number;
  readonly vfs: readonly VfSettings[];
  readonly src: Src<"pf" | "numVfs" | "vfs">;
}

export interface PoolPfSelector {
  readonly pf: string;
  /** Only these VF indices of the PF; undefined = all of them. */
  readonly vfs: readonly number[] | undefined;
  readonly at: Pos;
}

/** Device-plugin-like selectors; a VF belongs to the pool when it passes every selector given. */
export interface PoolMatch {
  /** Vendor IDs (any of). */
  readonly vendors: readonly number[] | undefined;
  /** VF device IDs (any of). */
  readonly devices: readonly number[] | undefined;
  /** PFs, optionally narrowed to VF ranges (any of). */
  readonly pfs: readonly PoolPfSelector[] | undefined;
  readonly src: Src<"vendor" | "device" | "pf">;
}

export interface PoolConfig {
  readonly name: string;
  readonly match: PoolMatch;
  readonly src: Src<"name" | "match">;
}

export type NicRequest =
  | { readonly kind: "vf"; readonly pf: string; readonly vf: number; readonly src: Src<"vf"> }
  | { readonly kind: "range"; readonly pf: string; readonly vfs: VfSet | undefined; readonly src: Src<"pf" | "vfs"> }
  | { readonly kind: "pool"; readonly pool: string; readonly src: Src<"pool"> };

export interface GuestConfig {
  readonly name: string;
  readonly memoryBytes: number;
  readonly vcpus: number;
  readonly nics: readonly NicRequest[];
  readonly src: Src<"name" | "memory" | "vcpus" | "nics">;
}

export interface HostFile {
  /** The file name given to the parser, used in every message. */
  readonly file: string;
  readonly host: HostConfig;
  readonly iommu: IommuConfig;
  readonly fabric: FabricConfig;
  readonly pfs: readonly PfConfig[];
  readonly pools: readonly PoolConfig[];
  readonly guests: readonly GuestConfig[];
}

/** Position of `key`'s value in a record, or the record's own position when the key was not given. */
export function fieldPos<K extends string>(src: Src<K>, key: K): Pos {
  return src.fields[key] ?? src.at;
}
