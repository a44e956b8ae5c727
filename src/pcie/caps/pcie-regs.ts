/**
 * PCI Express capability (PCI_CAP_ID_EXP 0x10) register offsets and bits, capability-relative,
 * with the names of include/uapi/linux/pci_regs.h and the PCIe Base 4.0 §7.5.3 name in the comment.
 * The table built from them is in ./pcie.ts.
 */

export const PCI_CAP_ID_EXP = 0x10; // PCI Express
export const PCI_EXP_FLAGS = 0x02; // PCI Express Capabilities
export const PCI_EXP_FLAGS_VERS = 0x000f; // Capability Version
export const PCI_EXP_FLAGS_TYPE = 0x00f0; // Device/Port Type
export const PCI_EXP_TYPE_ENDPOINT = 0x0; // PCI Express Endpoint
export const PCI_EXP_TYPE_LEG_END = 0x1; // Legacy PCI Express Endpoint
export const PCI_EXP_TYPE_ROOT_PORT = 0x4; // Root Port of PCI Express Root Complex
export const PCI_EXP_TYPE_UPSTREAM = 0x5; // Upstream Port of PCI Express Switch
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6; // Downstream Port of PCI Express Switch
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7; // PCI Express to PCI/PCI-X Bridge
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8; // PCI/PCI-X to PCI Express Bridge
export const PCI_EXP_TYPE_RC_END = 0x9; // Root Complex Integrated Endpoint
export const PCI_EXP_TYPE_RC_EC = 0xa; // Root Complex Event Collector
export const PCI_EXP_FLAGS_SLOT = 0x0100; // Slot Implemented
export const PCI_EXP_FLAGS_IRQ = 0x3e00; // Interrupt Message Number
/** Capability Version 2: every register through Slot Status 2 is present. */
export const PCI_EXP_FLAGS_VERS_2 = 2;

export const PCI_EXP_DEVCAP = 0x04; // Device Capabilities
export const PCI_EXP_DEVCAP_PAYLOAD = 0x00000007; // Max_Payload_Size Supported
export const PCI_EXP_DEVCAP_PHANTOM = 0x00000018; // Phantom Functions Supported
export const PCI_EXP_DEVCAP_EXT_TAG = 0x00000020; // Extended Tag Field Supported
export const PCI_EXP_DEVCAP_L0S = 0x000001c0; // Endpoint L0s Acceptable Latency
export const PCI_EXP_DEVCAP_L1 = 0x00000e00; // Endpoint L1 Acceptable Latency
export const PCI_EXP_DEVCAP_RBER = 0x00008000; // Role-Based Error Reporting
export const PCI_EXP_DEVCAP_PWR_VAL = 0x03fc0000; // Captured Slot Power Limit Value
export const PCI_EXP_DEVCAP_PWR_SCL = 0x0c000000; // Captured Slot Power Limit Scale
export const PCI_EXP_DEVCAP_FLR = 0x10000000; // Function Level Reset Capability

export const PCI_EXP_DEVCTL = 0x08; // Device Control
export const PCI_EXP_DEVCTL_CERE = 0x0001; // Correctable Error Reporting Enable
export const PCI_EXP_DEVCTL_NFERE = 0x0002; // Non-Fatal Error Reporting Enable
export const PCI_EXP_DEVCTL_FERE = 0x0004; // Fatal Error Reporting Enable
export const PCI_EXP_DEVCTL_URRE = 0x0008; // Unsupported Request Reporting Enable
export const PCI_EXP_DEVCTL_RELAX_EN = 0x0010; // Enable Relaxed Ordering
export const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0; // Max_Payload_Size
export const PCI_EXP_DEVCTL_EXT_TAG = 0x0100; // Extended Tag Field Enable
export const PCI_EXP_DEVCTL_PHANTOM = 0x0200; // Phantom Functions Enable
export const PCI_EXP_DEVCTL_AUX_PME = 0x0400; // Aux Power PM Enable
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x0800; // Enable No Snoop
export const PCI_EXP_DEVCTL_READRQ = 0x7000; // Max_Read_Request_Size
export const PCI_EXP_DEVCTL_READRQ_512B = 0x2000; // 512 bytes (the spec's default)
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000; // Bridge Configuration Retry Enable / Initiate Function Level Reset

export const PCI_EXP_DEVSTA = 0x0a; // Device Status
export const PCI_EXP_DEVSTA_CED = 0x0001; // Correctable Error Detected
export const PCI_EXP_DEVSTA_NFED = 0x0002; // Non-Fatal Error Detected
export const PCI_EXP_DEVSTA_FED = 0x0004; // Fatal Error Detected
export const PCI_EXP_DEVSTA_URD = 0x0008; // Unsupported Request Detected
export const PCI_EXP_DEVSTA_AUXPD = 0x0010; // AUX Power Detected
export const PCI_EXP_DEVSTA_TRPND = 0x0020; // Transactions Pending

export const PCI_EXP_LNKCAP = 0x0c; // Link Capabilities
export const PCI_EXP_LNKCAP_SLS = 0x0000000f; // Max Link Speed
export const PCI_EXP_LNKCAP_SLS_2_5GB = 0x1; // 2.5 GT/s (Supported Link Speeds Vector bit 0)
export const PCI_EXP_LNKCAP_SLS_5_0GB = 0x2; // 5.0 GT/s
export const PCI_EXP_LNKCAP_SLS_8_0GB = 0x3; // 8.0 GT/s
export const PCI_EXP_LNKCAP_SLS_16_0GB = 0x4; // 16.0 GT/s
export const PCI_EXP_LNKCAP_SLS_32_0GB = 0x5; // 32.0 GT/s
export const PCI_EXP_LNKCAP_MLW = 0x000003f0; // Maximum Link Width
export const PCI_EXP_LNKCAP_ASPMS = 0x00000c00; // ASPM Support
export const PCI_EXP_LNKCAP_ASPM_L0S = 0x00000400; // ASPM L0s Support
export const PCI_EXP_LNKCAP_ASPM_L1 = 0x00000800; // ASPM L1 Support
export const PCI_EXP_LNKCAP_L0SEL = 0x00007000; // L0s Exit Latency
export const PCI_EXP_LNKCAP_L1EL = 0x00038000; // L1 Exit Latency
export const PCI_EXP_LNKCAP_CLKPM = 0x00040000; // Clock Power Management
export const PCI_EXP_LNKCAP_SDERC = 0x00080000; // Surprise Down Error Reporting Capable
export const PCI_EXP_LNKCAP_DLLLARC = 0x00100000; // Data Link Layer Link Active Reporting Capable
export const PCI_EXP_LNKCAP_LBNC = 0x00200000; // Link Bandwidth Notification Capability
export const PCI_EXP_LNKCAP_ASPM_COMP = 0x00400000; // ASPM Optionality Compliance
export const PCI_EXP_LNKCAP_PN = 0xff000000; // Port Number

export const PCI_EXP_LNKCTL = 0x10; // Link Control
export const PCI_EXP_LNKCTL_ASPMC = 0x0003; // ASPM Control
export const PCI_EXP_LNKCTL_RCB = 0x0008; // Read Completion Boundary
export const PCI_EXP_LNKCTL_LD = 0x0010; // Link Disable
export const PCI_EXP_LNKCTL_RL = 0x0020; // Retrain Link
export const PCI_EXP_LNKCTL_CCC = 0x0040; // Common Clock Configuration
export const PCI_EXP_LNKCTL_ES = 0x0080; // Extended Synch
export const PCI_EXP_LNKCTL_CLKREQ_EN = 0x0100; // Enable Clock Power Management
export const PCI_EXP_LNKCTL_HAWD = 0x0200; // Hardware Autonomous Width Disable
export const PCI_EXP_LNKCTL_LBMIE = 0x0400; // Link Bandwidth Management Interrupt Enable
export const PCI_EXP_LNKCTL_LABIE = 0x0800; // Link Autonomous Bandwidth Interrupt Enable

export const PCI_EXP_LNKSTA = 0x12; // Link Status
export const PCI_EXP_LNKSTA_CLS = 0x000f; // Current Link Speed
export const PCI_EXP_LNKSTA_NLW = 0x03f0; // Negotiated Link Width
export const PCI_EXP_LNKSTA_NLW_SHIFT = 4;
export const PCI_EXP_LNKSTA_LT = 0x0800; // Link Training
export const PCI_EXP_LNKSTA_SLC = 0x1000; // Slot Clock Configuration
export const PCI_EXP_LNKSTA_DLLLA = 0x2000; // Data Link Layer Link Active
export const PCI_EXP_LNKSTA_LBMS = 0x4000; // Link Bandwidth Management Status
export const PCI_EXP_LNKSTA_LABS = 0x8000; // Link Autonomous Bandwidth Status

export const PCI_EXP_SLTCAP = 0x14; // Slot Capabilities
export const PCI_EXP_SLTCAP_ABP = 0x00000001; // Attention Button Present
export const PCI_EXP_SLTCAP_PCP = 0x00000002; // Power Controller Present
export const PCI_EXP_SLTCAP_MRLSP = 0x00000004; // MRL Sensor Present
export const PCI_EXP_SLTCAP_AIP = 0x00000008; // Attention Indicator Present
export const PCI_EXP_SLTCAP_PIP = 0x00000010; // Power Indicator Present
export const PCI_EXP_SLTCAP_HPS = 0x00000020; // Hot-Plug Surprise
export const PCI_EXP_SLTCAP_HPC = 0x00000040; // Hot-Plug Capable
export const PCI_EXP_SLTCAP_SPLV = 0x00007f80; // Slot Power Limit Value
export const PCI_EXP_SLTCAP_SPLS = 0x00018000; // Slot Power Limit Scale
export const PCI_EXP_SLTCAP_EIP = 0x00020000; // Electromechanical Interlock Present
export const PCI_EXP_SLTCAP_NCCS = 0x00040000; // No Command Completed Support
export const PCI_EXP_SLTCAP_PSN = 0xfff80000; // Physical Slot Number

export const PCI_EXP_SLTCTL = 0x18; // Slot Control
export const PCI_EXP_SLTCTL_ABPE = 0x0001; // Attention Button Pressed Enable
export const PCI_EXP_SLTCTL_PFDE = 0x0002; // Power Fault Detected Enable
export const PCI_EXP_SLTCTL_MRLSCE = 0x0004; // MRL Sensor Changed Enable
export const PCI_EXP_SLTCTL_PDCE = 0x0008; // Presence Detect Changed Enable
export const PCI_EXP_SLTCTL_CCIE = 0x0010; // Command Completed Interrupt Enable
export const PCI_EXP_SLTCTL_HPIE = 0x0020; // Hot-Plug Interrupt Enable
export const PCI_EXP_SLTCTL_AIC = 0x00c0; // Attention Indicator Control
export const PCI_EXP_SLTCTL_ATTN_IND_OFF = 0x00c0; // Attention Indicator off
export const PCI_EXP_SLTCTL_PIC = 0x0300; // Power Indicator Control
export const PCI_EXP_SLTCTL_PWR_IND_ON = 0x0100; // Power Indicator on
export const PCI_EXP_SLTCTL_PWR_IND_OFF = 0x0300; // Power Indicator off
export const PCI_EXP_SLTCTL_PCC = 0x0400; // Power Controller Control (1 = power off)
export const PCI_EXP_SLTCTL_EIC = 0x0800; // Electromechanical Interlock Control
export const PCI_EXP_SLTCTL_DLLSCE = 0x1000; // Data Link Layer State Changed Enable
export const PCI_EXP_SLTCTL_ASPL_DISABLE = 0x2000; // Auto Slot Power Limit Disable
export const PCI_EXP_SLTCTL_IBPD_DISABLE = 0x4000; // In-Band PD Disable

export const PCI_EXP_SLTSTA = 0x1a; // Slot Status
export const PCI_EXP_SLTSTA_ABP = 0x0001; // Attention Button Pressed
export const PCI_EXP_SLTSTA_PFD = 0x0002; // Power Fault Detected
export const PCI_EXP_SLTSTA_MRLSC = 0x0004; // MRL Sensor Changed
export const PCI_EXP_SLTSTA_PDC = 0x0008; // Presence Detect Changed
export const PCI_EXP_SLTSTA_CC = 0x0010; // Command Completed
export const PCI_EXP_SLTSTA_MRLSS = 0x0020; // MRL Sensor State
export const PCI_EXP_SLTSTA_PDS = 0x0040; // Presence Detect State
export const PCI_EXP_SLTSTA_EIS = 0x0080; // Electromechanical Interlock Status
export const PCI_EXP_SLTSTA_DLLSC = 0x0100; // Data Link Layer State Changed

export const PCI_EXP_RTCTL = 0x1c; // Root Control
export const PCI_EXP_RTCTL_SECEE = 0x0001; // System Error on Correctable Error Enable
export const PCI_EXP_RTCTL_SENFEE = 0x0002; // System Error on Non-Fatal Error Enable
export const PCI_EXP_RTCTL_SEFEE = 0x0004; // System Error on Fatal Error Enable
export const PCI_EXP_RTCTL_PMEIE = 0x0008; // PME Interrupt Enable
export const PCI_EXP_RTCTL_CRSSVE = 0x0010; // CRS Software Visibility Enable
export const PCI_EXP_RTCAP = 0x1e; // Root Capabilities
export const PCI_EXP_RTCAP_CRSVIS = 0x0001; // CRS Software Visibility
export const PCI_EXP_RTSTA = 0x20; // Root Status
export const PCI_EXP_RTSTA_PME_RQ_ID = 0x0000ffff; // PME Requester ID
export const PCI_EXP_RTSTA_PME = 0x00010000; // PME Status
export const PCI_EXP_RTSTA_PENDING = 0x00020000; // PME Pending

export const PCI_EXP_DEVCAP2 = 0x24; // Device Capabilities 2
export const PCI_EXP_DEVCAP2_COMP_TMOUT_RANGES = 0x0000000f; // Completion Timeout Ranges Supported
export const PCI_EXP_DEVCAP2_COMP_TMOUT_DIS = 0x00000010; // Completion Timeout Disable Supported
export const PCI_EXP_DEVCAP2_ARI = 0x00000020; // ARI Forwarding Supported
export const PCI_EXP_DEVCAP2_ATOMIC_ROUTE = 0x00000040; // AtomicOp Routing Supported
export const PCI_EXP_DEVCAP2_ATOMIC_COMP32 = 0x00000080; // 32-bit AtomicOp Completer Supported
export const PCI_EXP_DEVCAP2_ATOMIC_COMP64 = 0x00000100; // 64-bit AtomicOp Completer Supported
export const PCI_EXP_DEVCAP2_ATOMIC_COMP128 = 0x00000200; // 128-bit CAS Completer Supported
export const PCI_EXP_DEVCAP2_LTR = 0x00000800; // LTR Mechanism Supported
export const PCI_EXP_DEVCAP2_TPH_COMP_MASK = 0x00003000; // TPH Completer Supported
export const PCI_EXP_DEVCAP2_TAG10_COMP = 0x00010000; // 10-Bit Tag Completer Supported
export const PCI_EXP_DEVCAP2_TAG10_REQ = 0x00020000; // 10-Bit Tag Requester Supported
export const PCI_EXP_DEVCAP2_OBFF_MASK = 0x000c0000; // OBFF Supported
export const PCI_EXP_DEVCAP2_EE_PREFIX = 0x00200000; // End-End TLP Prefix Supported

export const PCI_EXP_DEVCTL2 = 0x28; // Device Control 2
export const PCI_EXP_DEVCTL2_COMP_TIMEOUT = 0x000f; // Completion Timeout Value
export const PCI_EXP_DEVCTL2_COMP_TMOUT_DIS = 0x0010; // Completion Timeout Disable
export const PCI_EXP_DEVCTL2_ARI = 0x0020; // ARI Forwarding Enable
export const PCI_EXP_DEVCTL2_ATOMIC_REQ = 0x0040; // AtomicOp Requester Enable
export const PCI_EXP_DEVCTL2_ATOMIC_EGRESS_BLOCK = 0x0080; // AtomicOp Egress Blocking
export const PCI_EXP_DEVCTL2_IDO_REQ_EN = 0x0100; // IDO Request Enable
export const PCI_EXP_DEVCTL2_IDO_CMP_EN = 0x0200; // IDO Completion Enable
export const PCI_EXP_DEVCTL2_LTR_EN = 0x0400; // LTR Mechanism Enable
export const PCI_EXP_DEVCTL2_TAG10_REQ_EN = 0x1000; // 10-Bit Tag Requester Enable
export const PCI_EXP_DEVCTL2_OBFF_WAKE_EN = 0x6000; // OBFF Enable
export const PCI_EXP_DEVSTA2 = 0x2a; // Device Status 2 (no bits defined)

export const PCI_EXP_LNKCAP2 = 0x2c; // Link Capabilities 2
export const PCI_EXP_LNKCAP2_SLS = 0x000000fe; // Supported Link Speeds Vector
export const PCI_EXP_LNKCAP2_SLS_2_5GB = 0x00000002; // 2.5 GT/s
export const PCI_EXP_LNKCAP2_SLS_5_0GB = 0x00000004; // 5.0 GT/s
export const PCI_EXP_LNKCAP2_SLS_8_0GB = 0x00000008; // 8.0 GT/s
export const PCI_EXP_LNKCAP2_SLS_16_0GB = 0x00000010; // 16.0 GT/s
export const PCI_EXP_LNKCAP2_SLS_32_0GB = 0x00000020; // 32.0 GT/s
export const PCI_EXP_LNKCAP2_CROSSLINK = 0x00000100; // Crosslink Supported
export const PCI_EXP_LNKCAP2_DRS = 0x80000000; // DRS Supported (Device Readiness Status)

export const PCI_EXP_LNKCTL2 = 0x30; // Link Control 2
export const PCI_EXP_LNKCTL2_TLS = 0x000f; // Target Link Speed
export const PCI_EXP_LNKCTL2_ENTER_COMP = 0x0010; // Enter Compliance
export const PCI_EXP_LNKCTL2_HASD = 0x0020; // Hardware Autonomous Speed Disable
export const PCI_EXP_LNKCTL2_SEL_DEEMPH = 0x0040; // Selectable De-emphasis
export const PCI_EXP_LNKCTL2_TX_MARGIN = 0x0380; // Transmit Margin
export const PCI_EXP_LNKCTL2_ENTER_MOD_COMP = 0x0400; // Enter Modified Compliance
export const PCI_EXP_LNKCTL2_COMP_SOS = 0x0800; // Compliance SOS
export const PCI_EXP_LNKCTL2_COMP_PRESET = 0xf000; // Compliance Preset/De-emphasis

export const PCI_EXP_LNKSTA2 = 0x32; // Link Status 2
export const PCI_EXP_LNKSTA2_CDL = 0x0001; // Current De-emphasis Level
export const PCI_EXP_LNKSTA2_EQ_COMPLETE = 0x0002; // Equalization 8.0 GT/s Complete
export const PCI_EXP_LNKSTA2_EQ_PHASE1 = 0x0004; // Equalization 8.0 GT/s Phase 1 Successful
export const PCI_EXP_LNKSTA2_EQ_PHASE2 = 0x0008; // Equalization 8.0 GT/s Phase 2 Successful
export const PCI_EXP_LNKSTA2_EQ_PHASE3 = 0x0010; // Equalization 8.0 GT/s Phase 3 Successful
export const PCI_EXP_LNKSTA2_LINK_EQ_REQ = 0x0020; // Link Equalization Request 8.0 GT/s

export const PCI_EXP_SLTCAP2 = 0x34; // Slot Capabilities 2
export const PCI_EXP_SLTCAP2_IBPD = 0x00000001; // In-Band PD Disable Supported
export const PCI_EXP_SLTCTL2 = 0x38; // Slot Control 2 (no bits defined)
export const PCI_EXP_SLTSTA2 = 0x3a; // Slot Status 2 (no bits defined)
/** A version 2 PCI Express capability ends after Slot Status 2. */
export const PCI_CAP_EXP_SIZEOF_V2 = 0x3c;
