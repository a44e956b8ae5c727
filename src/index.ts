/**
 * pciov's public API: the one barrel (explicit named exports). Internals stay internal.
 */
export { IovError, isIovError, type IovErrorCode } from "./errors.js";

// memory
export { PhysMem, PAGE_SIZE, PHYS_ADDR_BITS } from "./memory/physmem.js";

// PCIe: register tables, config space, capabilities, fabric, enumeration, dumps
export { reg, bit, bits, decode, encode, defineCap, defineExtCap, defineRegFile, regJson, type CapDef, type RegSpec } from "./pcie/regs.js";
export { LayoutBuilder, type ConfigLayout } from "./pcie/layout.js";
export { ConfigSpace } from "./pcie/configspace.js";
export { TYPE0_HEADER, TYPE1_HEADER } from "./pcie/header.js";
export { barMasks, decodeBar, sizeBarVia, type BarSpec } from "./pcie/bars.js";
export { parseBdf, formatBdf, type Bdf } from "./pcie/bdf.js";
export { PciFunction, type FunctionKind, type MmioHandler } from "./pcie/function.js";
export { IDENTITY_TRANSLATOR, DMA_FAULT, type DmaTranslator, type MsiSink } from "./pcie/dma.js";
export { CAP_DEFS, findCapDef } from "./pcie/caps/index.js";
export { sriovCap, SRIOV_CAP } from "./pcie/caps/sriov.js";
export { pcieCap } from "./pcie/caps/pcie.js";
export { acsCap } from "./pcie/caps/acs.js";
export { ariCap } from "./pcie/caps/ari.js";
export { msixCap } from "./pcie/caps/msix.js";
export { Fabric } from "./pcie/fabric.js";
export { makeBridge, makeEndpoint, makeHostBridge } from "./pcie/factories.js";
export { enumerate, type EnumerateOptions, type EnumerateResult } from "./pcie/enumerate.js";
export { renderTree, topologyJson } from "./pcie/topology.js";
export { writeDump, parseDump, DumpParseError } from "./pcie/dump.js";
export { decodeFunction } from "./pcie/decode.js";
export { renderLspci } from "./pcie/lspci-text.js";

// SR-IOV
export { SriovPf, type VfHost, type VfDeviceModel } from "./sriov/pf.js";
export { virtfnBus, virtfnDevfn, virtfnRid, vfIdFromRid, chooseSystemPageSize } from "./sriov/rid.js";
export { fixedOffsetStride, ariDependentOffset, type SriovGeometry } from "./sriov/geometry.js";

// NIC
export { Nic, hwTemplateOf } from "./nic/nic.js";
export { NIC_TEMPLATES, findTemplate, type NicTemplate } from "./nic/templates/catalog.js";
export { importDevice } from "./nic/templates/from-dump.js";
export { MailboxHw } from "./nic/mailbox-hw.js";
export { defaultVfPortConfig, formatMac, parseMac, type VfPortConfig } from "./nic/port-config.js";

// drivers
export { PfSriovDriver } from "./pf-driver/sriov.js";
export { MailboxServer } from "./pf-driver/mailbox-server.js";
export { ipLinkSetVf, renderIpLinkShow } from "./pf-driver/vf-knobs.js";
export { VfDriver } from "./vf-driver/vf-driver.js";
export { MailboxClient } from "./vf-driver/mailbox-client.js";

// hypervisor
export { Hypervisor, HOST_MAP } from "./hypervisor-glue/hypervisor.js";
export { Guest } from "./hypervisor-glue/guest.js";
export { computeGroups, checkViability, type IommuGroup } from "./hypervisor-glue/groups.js";
export { VtdIommu } from "./hypervisor-glue/iommu/vtd.js";
export { IommuHost } from "./hypervisor-glue/iommu/host.js";
export { GuestDomain, VfioDevice } from "./hypervisor-glue/passthrough.js";
export { InterruptRouter } from "./hypervisor-glue/interrupts.js";

// host files and boot
export { parseHostFile, loadHostFile } from "./config/parse.js";
export { validateHostFile } from "./config/validate.js";
export { resolveAssignments } from "./config/assign.js";
export { ConfigError } from "./config/issues.js";
export { SimHost } from "./config/host.js";
export { boot, planBoot, report, type BootReport } from "./config/boot.js";
