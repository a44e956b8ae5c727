/** SR-IOV capability register offsets and bits (include/uapi/linux/pci_regs.h names), capability-relative. */
export const PCI_EXT_CAP_ID_SRIOV = 0x10; // Single Root I/O Virtualization
export const PCI_SRIOV_CAP = 0x04; // SR-IOV Capabilities
export const PCI_SRIOV_CAP_VFM = 0x01; // VF Migration Capable
export const PCI_SRIOV_CTRL = 0x08; // SR-IOV Control
export const PCI_SRIOV_CTRL_VFE = 0x01; // VF Enable
export const PCI_SRIOV_CTRL_VFM = 0x02; // VF Migration Enable
export const PCI_SRIOV_CTRL_INTR = 0x04; // VF Migration Interrupt Enable
export const PCI_SRIOV_CTRL_MSE = 0x08; // VF Memory Space Enable
export const PCI_SRIOV_CTRL_ARI = 0x10; // ARI Capable Hierarchy
export const PCI_SRIOV_STATUS = 0x0a; // SR-IOV Status
export const PCI_SRIOV_INITIAL_VF = 0x0c; // InitialVFs
export const PCI_SRIOV_TOTAL_VF = 0x0e; // TotalVFs
export const PCI_SRIOV_NUM_VF = 0x10; // NumVFs
export const PCI_SRIOV_FUNC_LINK = 0x12; // Function Dependency Link
export const PCI_SRIOV_VF_OFFSET = 0x14; // First VF Offset
export const PCI_SRIOV_VF_STRIDE = 0x16; // VF Stride
export const PCI_SRIOV_VF_DID = 0x1a; // VF Device ID
export const PCI_SRIOV_SUP_PGSIZE = 0x1c; // Supported Page Sizes
export const PCI_SRIOV_SYS_PGSIZE = 0x20; // System Page Size
export const PCI_SRIOV_BAR = 0x24; // VF BAR0 (VF BARn at 0x24 + 4n)
export const PCI_SRIOV_VFM = 0x3c; // VF Migration State Array Offset
export const PCI_SRIOV_NUM_BARS = 6;
export const PCI_SRIOV_SIZEOF = 0x40;

/** 100 ms: the spec's wait before software may issue configuration requests to new VFs. */
export const VF_SETTLE_NS = 100_000_000;
/** PCIe DEVCTL Initiate Function Level Reset (PCI_EXP_DEVCTL_BCR_FLR). */
export const PCI_EXP_DEVCTL = 0x08;
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
