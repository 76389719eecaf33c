"""Write synthetic recordings as DICOM waveforms, the format a DICOM ECG came in.

A cardiology archive holds 12-lead ECGs as DICOM waveform objects; a release of synthetic ECGs
that opens in the same viewer must be DICOM too. Each record becomes one file with one
multiplex group ("RHYTHM"): 16-bit samples with a sensitivity per channel (the largest
absolute value maps to 32,000), the channel's unit, and the lead coded as the SCP-ECG codes
a 12-lead file uses ("Lead I" ... "Lead V6"; other channels by name under a local scheme).

Nothing is copied from a source file: every identifier is new (study, series and instance
UIDs from pydicom's generator), the patient is "SYNTHETIC^<record>", and no birth date, sex,
institution or device is written. The storage class follows the channels: 12-lead ECG
Waveform Storage for standard leads within its 16,384 samples, General ECG Waveform Storage
for longer ECGs, Hemodynamic Waveform Storage for other signals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
import re
from typing import Any

import numpy as np

from synthmed.datasets.signals import SignalSet

__all__ = ["write_dicom_waveform"]

#: SCP-ECG lead codes (coding scheme SCPECG 1.3), as in 12-lead DICOM ECGs
LEAD_CODES = {"I": "5.6.3-9-1", "II": "5.6.3-9-2", "V1": "5.6.3-9-3", "V2": "5.6.3-9-4",
              "V3": "5.6.3-9-5", "V4": "5.6.3-9-6", "V5": "5.6.3-9-7", "V6": "5.6.3-9-8",
              "III": "5.6.3-9-61", "aVR": "5.6.3-9-62", "aVL": "5.6.3-9-63",
              "aVF": "5.6.3-9-64"}
TWELVE_LEAD = "1.2.840.10008.5.1.4.1.1.9.1.1"
GENERAL_ECG = "1.2.840.10008.5.1.4.1.1.9.1.2"
HEMODYNAMIC = "1.2.840.10008.5.1.4.1.1.9.2.1"
#: the 12-lead ECG IOD holds at most this many samples per channel
TWELVE_LEAD_MAX_SAMPLES = 16_384
FULL_SCALE = 32_000


def write_dicom_waveform(signals: SignalSet, rec: np.ndarray, path: Path, name: str) -> Path:
    """Write one record (channels x samples, in ``signals.units``) to ``path``."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    data = np.asarray(rec, dtype=np.float64)
    leads = [_lead(c) for c in signals.channels]
    ecg = all(lead is not None for lead in leads)
    sop_class = (TWELVE_LEAD if ecg and data.shape[1] <= TWELVE_LEAD_MAX_SAMPLES
                 else GENERAL_ECG if ecg else HEMODYNAMIC)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    now = datetime.now(UTC)
    ds.update(_identity(name, sop_class, meta.MediaStorageSOPInstanceUID, "ECG" if ecg
                        else "HD", now, generate_uid))
    peak = np.max(np.abs(data), axis=1)
    # the sensitivity as written (a DS string) is the one readers apply
    sensitivity = np.array([float(f"{p / FULL_SCALE:.6g}") if p > 0 else 1.0 for p in peak])
    raw = np.round(data / sensitivity[:, None]).astype("<i2")
    group = Dataset()
    group.MultiplexGroupTimeOffset = "0"
    group.WaveformOriginality = "DERIVED"
    group.NumberOfWaveformChannels = data.shape[0]
    group.NumberOfWaveformSamples = data.shape[1]
    group.SamplingFrequency = f"{signals.fs:.10g}"
    group.MultiplexGroupLabel = "RHYTHM"
    group.ChannelDefinitionSequence = Sequence([
        _channel(label, lead, unit, sens, Dataset, Sequence)
        for label, lead, unit, sens in zip(signals.channels, leads, signals.units, sensitivity,
                                           strict=True)])
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformData = raw.T.tobytes()  # samples interleaved channel by channel
    ds.WaveformSequence = Sequence([group])
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _lead(channel: str) -> str | None:
    """The standard lead a channel name stands for ("Lead II", "ii", "V1"), or None."""
    bare = re.sub(r"^lead\s+", "", channel.strip(), flags=re.IGNORECASE)
    return next((lead for lead in LEAD_CODES if lead.lower() == bare.lower()), None)


def _identity(name: str, sop_class: str, instance: str, modality: str, now: datetime,
              new_uid: Any) -> dict[str, Any]:
    """Patient, study, series, equipment and SOP attributes of a synthetic record: new
    identifiers only, the content time being the time it was written."""
    return {"SOPClassUID": sop_class, "SOPInstanceUID": instance,
            "PatientName": f"SYNTHETIC^{name}", "PatientID": name, "PatientBirthDate": "",
            "PatientSex": "", "StudyInstanceUID": new_uid(), "SeriesInstanceUID": new_uid(),
            "StudyDate": "", "StudyTime": "", "StudyID": "", "AccessionNumber": "",
            "ReferringPhysicianName": "", "Modality": modality, "SeriesNumber": "1",
            "InstanceNumber": "1", "Manufacturer": "synthmed",
            "SeriesDescription": "synthetic waveform (synthmed)",
            "ContentDate": now.strftime("%Y%m%d"), "ContentTime": now.strftime("%H%M%S"),
            "AcquisitionDateTime": ""}


def _channel(label: str, lead: str | None, unit: str, sensitivity: float, dataset: Any,
             sequence: Any) -> Any:
    chan = dataset()
    source = dataset()
    if lead is not None:
        source.CodeValue, source.CodingSchemeDesignator = LEAD_CODES[lead], "SCPECG"
        source.CodingSchemeVersion, source.CodeMeaning = "1.3", f"Lead {lead}"
    else:  # a local code: "99" schemes are private by the standard
        source.CodeValue, source.CodingSchemeDesignator = label[:16], "99SYNTHMED"
        source.CodeMeaning = label[:64]
    chan.ChannelSourceSequence = sequence([source])
    chan.ChannelLabel = label[:16]
    chan.ChannelSensitivity = f"{sensitivity:.6g}"
    if unit:
        units = dataset()
        units.CodeValue, units.CodingSchemeDesignator = unit[:16], "UCUM"
        units.CodeMeaning = unit[:64]
        chan.ChannelSensitivityUnitsSequence = sequence([units])
    chan.ChannelSensitivityCorrectionFactor = "1"
    chan.ChannelBaseline = "0"
    chan.ChannelSampleSkew = "0"
    chan.WaveformBitsStored = 16
    return chan
