/** SR-IOV register names: the capability table's uapi constants (src/pcie/caps/sriov.ts), plus timing. */
export {
  PCI_EXT_CAP_ID_SRIOV,
  PCI_SRIOV_CAP,
  PCI_SRIOV_CAP_VFM,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_CTRL_VFM,
  PCI_SRIOV_CTRL_INTR,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_ARI,
  PCI_SRIOV_STATUS,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_FUNC_LINK,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_BAR,
  PCI_SRIOV_VFM,
  PCI_SRIOV_NUM_BARS,
} from "../pcie/caps/sriov.js";
export { PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR } from "../pcie/caps/pcie-regs.js";

/** 100 ms: the spec's wait before software may issue configuration requests to new VFs. */
export const VF_SETTLE_NS = 100_000_000;
