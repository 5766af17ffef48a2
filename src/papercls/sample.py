"""Deterministic generator of a realistic synthetic labelled corpus.

The corpus mimics the challenge's CSV files: ``uuid,title,author,abstract,Keywords,label``
for training (label 1 = medical paper, 0 = not) and the same columns without ``label`` for
the test file.

It is built to be learnable but not trivially separable:

* topics come in pairs that share the *method* and differ in the *application*
  (tumour segmentation vs road-scene segmentation, epidemiology vs economics, ...), so both
  classes share most of their vocabulary;
* generic method/result sentences appear in both classes;
* for a fraction of papers the domain cue is weak (one, often rare, word in the abstract)
  or absent;
* some non-medical papers use medical-sounding words ("virus" in computer security,
  "fault diagnosis" of machines, "structural health monitoring", plant pathogens), and some
  medical papers borrow engineering vocabulary;
* a few percent of the labels are flipped.

Everything is drawn from seeded ``random.Random`` instances (never global state), so the same
seed and sizes give byte-identical CSV files (independent of ``PYTHONHASHSEED``). Per-row
work is small: 100,000 rows take about 9 s of CPU on a slow shared core, ~3 s on a fast one.

``python -m papercls.sample --out data/sample`` regenerates the bundled files.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "TEST_COLUMNS",
    "TRAIN_COLUMNS",
    "generate",
    "main",
    "write_sample",
]

TRAIN_COLUMNS: tuple[str, ...] = ("uuid", "title", "author", "abstract", "Keywords", "label")
TEST_COLUMNS: tuple[str, ...] = TRAIN_COLUMNS[:-1]

DEFAULT_SEED = 20240601
MAX_ABSTRACT_CHARS = 3800

# Shares of rows by strength of the domain cue.
_MODES: tuple[str, ...] = ("strong", "medium", "weak", "none")
_MODE_WEIGHTS: tuple[float, ...] = (0.64, 0.20, 0.11, 0.05)
_P_ONE_SENTENCE = 0.03  # abstracts made of a single sentence
_P_EMPTY_KEYWORDS = 0.15
_P_REPEATED_AUTHORS = 0.30
_P_CONFOUNDER = 0.12  # cross-domain sentence ("medical" words in non-medical papers, ...)
_LENGTH_MEDIAN = 760.0  # target abstract length (characters), log-normal
_LENGTH_SIGMA = 0.62

# --------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------

_ADJ = [
    "scalable", "robust", "lightweight", "interpretable", "efficient", "unified",
    "hierarchical", "adaptive", "probabilistic", "semi-supervised", "data-efficient",
    "modular", "principled", "end-to-end",
]
_CONDITION = [
    "limited supervision", "distribution shift", "noisy labels", "class imbalance",
    "missing data", "small sample sizes", "heterogeneous data sources", "measurement error",
    "temporal drift", "privacy constraints",
]

# One topic pair: a shared method side ("method", "task", "metric", "kw", "sents") and two
# applications, "med" (label 1) and "non" (label 0). Each application lists slot fillers
# for the shared templates, rare single-word cues ("cue"), keywords and its own sentences.
_PAIRS: list[dict] = [
    {
        "name": "segmentation",
        "prior": 0.50,
        "method": [
            "convolutional neural network", "U-Net", "vision transformer",
            "fully convolutional network", "encoder-decoder network",
            "attention-based segmentation network", "self-supervised pre-training",
            "deep ensemble",
        ],
        "task": ["semantic segmentation", "instance segmentation", "pixel-wise classification",
                 "boundary delineation"],
        "metric": ["Dice coefficient", "mean intersection-over-union", "boundary F1 score",
                   "pixel accuracy"],
        "kw": ["deep learning", "semantic segmentation", "convolutional neural networks",
               "computer vision", "transformers"],
        "sents": [
            "The encoder-decoder architecture uses skip connections to preserve fine spatial "
            "detail.",
            "We train the {method} with a combination of cross-entropy and Dice loss.",
            "Data augmentation with random rotations, elastic deformations and intensity shifts "
            "reduces overfitting.",
            "A multi-scale attention module aggregates context from several receptive fields.",
            "Test-time augmentation further improves the {metric}.",
            "Images are resampled to a common resolution and normalised before training.",
            "Pseudo-labels from a teacher network are used to exploit unlabelled images.",
            "The network has {params} million parameters and runs at {fps} frames per second "
            "on a single GPU.",
        ],
        "med": {
            "obj": ["brain tumours", "liver lesions", "lung nodules", "breast masses",
                    "retinal vessels", "prostate glands", "colorectal polyps", "skin lesions",
                    "cardiac chambers", "pancreatic tumours"],
            "data": ["MRI scans", "CT volumes", "dermoscopic images", "colonoscopy videos",
                     "fundus photographs", "ultrasound images", "PET-CT studies", "mammograms"],
            "context": ["radiology", "oncology", "clinical practice", "radiotherapy planning",
                        "cancer screening programmes"],
            "unit": ["patients", "scans", "cases"],
            "expert": ["radiologists", "pathologists", "oncologists", "clinicians"],
            "stake": ["treatment planning", "early cancer detection", "patient management"],
            "outcome": ["tumour volume", "malignancy", "lesion boundaries"],
            "cue": ["glioma", "metastases", "hepatocellular carcinoma", "adenocarcinoma",
                    "radiotherapy", "melanoma", "oncology", "tumour", "biopsy",
                    "contrast-enhanced MRI", "neuroradiology", "glioblastoma", "mammography",
                    "colonoscopy", "echocardiography", "retinopathy"],
            "kw": ["medical imaging", "tumour segmentation", "MRI", "CT", "radiology",
                   "computer-aided diagnosis", "oncology"],
            "sents": [
                "Manual delineation of {obj} by {expert} is time-consuming and subject to "
                "inter-observer variability.",
                "Accurate segmentation of {obj} on {data} is a prerequisite for radiotherapy "
                "planning and follow-up.",
                "The model was validated on an external cohort of {n} patients from a second "
                "hospital.",
                "Automated tumour volumetry could reduce reporting time for radiologists.",
            ],
        },
        "non": {
            "obj": ["road scenes", "pedestrians and vehicles", "building footprints",
                    "lane markings", "crop fields", "cloud cover", "drivable areas",
                    "urban land cover", "roof surfaces", "river networks"],
            "data": ["dashcam videos", "satellite images", "aerial orthophotos",
                     "LiDAR point clouds", "street-level imagery", "multispectral imagery",
                     "drone footage"],
            "context": ["autonomous driving", "remote sensing", "urban planning",
                        "precision agriculture", "national mapping agencies"],
            "unit": ["images", "scenes", "tiles", "frames"],
            "expert": ["annotators", "surveyors", "GIS analysts", "human operators"],
            "stake": ["safe autonomous navigation", "land-use monitoring", "map updating"],
            "outcome": ["road boundaries", "land cover", "obstacle locations"],
            "cue": ["Cityscapes", "KITTI", "Sentinel-2", "orthophotos", "pedestrians", "lidar",
                    "roadside", "traffic", "vehicles", "Landsat", "deforestation",
                    "cadastral maps", "highways", "terrain", "satellites", "parking lots"],
            "kw": ["autonomous driving", "remote sensing", "scene understanding",
                   "satellite imagery", "urban mapping"],
            "sents": [
                "Robust perception of {obj} under adverse weather remains an open problem for "
                "autonomous vehicles.",
                "Annotating {data} at the pixel level is expensive, which limits the size of "
                "available benchmarks.",
                "The model was evaluated on scenes captured in {n_sites} cities under varying "
                "lighting conditions.",
                "Up-to-date maps of {obj} support {stake}.",
            ],
        },
    },
    {
        "name": "statistics",
        "prior": 0.50,
        "method": [
            "mixed-effects regression", "Bayesian hierarchical model",
            "instrumental variable analysis", "difference-in-differences design",
            "propensity score matching", "generalised additive model", "survival analysis",
            "quantile regression",
        ],
        "task": ["causal inference", "risk estimation", "effect estimation",
                 "longitudinal analysis"],
        "metric": ["hazard ratio", "odds ratio", "average treatment effect", "relative risk"],
        "kw": ["causal inference", "regression", "Bayesian statistics", "panel data",
               "survival analysis"],
        "sents": [
            "We estimate the model by maximum likelihood with robust standard errors clustered "
            "at the regional level.",
            "Confounding was addressed with {method} and inverse probability weighting.",
            "Missing covariates were handled by multiple imputation with {k} imputed datasets.",
            "We report the {metric} with 95% confidence intervals.",
            "Heterogeneity of effects across subgroups was assessed with interaction terms.",
            "The identification strategy relies on a natural experiment arising from a policy "
            "change.",
            "Posterior distributions were sampled with Markov chain Monte Carlo using {k} "
            "chains.",
            "Results were robust to alternative model specifications and to the exclusion of "
            "outliers.",
        ],
        "med": {
            "obj": ["cardiovascular disease", "type 2 diabetes", "childhood asthma",
                    "maternal mortality", "hospital readmission", "dementia",
                    "colorectal cancer incidence", "influenza-related deaths"],
            "data": ["a prospective cohort", "national health registries",
                     "electronic health records", "a randomised controlled trial",
                     "hospital discharge data", "a case-control study"],
            "context": ["public health", "epidemiology", "primary care",
                        "preventive medicine"],
            "unit": ["participants", "patients", "adults", "children", "women"],
            "expert": ["epidemiologists", "physicians", "general practitioners"],
            "stake": ["public health policy", "clinical guidelines", "disease prevention"],
            "outcome": ["all-cause mortality", "incident disease", "hospitalisation",
                        "blood pressure"],
            "cue": ["morbidity", "comorbidities", "smoking cessation", "obesity",
                    "hypertension", "diabetes", "epidemiology", "dementia", "asthma",
                    "cholesterol", "pregnancy outcomes", "vaccination", "stroke",
                    "multimorbidity", "breastfeeding", "menopause"],
            "kw": ["epidemiology", "cohort study", "public health", "risk factors",
                   "mortality", "chronic disease"],
            "sents": [
                "Participants were followed for a median of {years} years, during which {n} "
                "incident cases occurred.",
                "Higher exposure was associated with increased risk of {obj} after adjustment "
                "for age, sex and smoking.",
                "These findings support targeted prevention strategies for high-risk "
                "populations.",
                "Body mass index and blood pressure were measured at baseline by trained "
                "nurses.",
            ],
        },
        "non": {
            "obj": ["household consumption", "regional unemployment", "housing prices",
                    "firm productivity", "minimum wage effects", "income inequality",
                    "trade flows", "school attainment"],
            "data": ["a household panel survey", "administrative tax records",
                     "firm-level balance sheets", "labour force surveys", "census microdata",
                     "scanner data"],
            "context": ["labour economics", "public finance", "development economics",
                        "monetary policy"],
            "unit": ["households", "firms", "workers", "municipalities", "students"],
            "expert": ["economists", "policy makers", "statistical agencies"],
            "stake": ["fiscal policy", "labour market regulation", "poverty reduction"],
            "outcome": ["earnings", "employment", "consumption growth", "investment"],
            "cue": ["wages", "inflation", "GDP", "tariffs", "fiscal policy", "unemployment",
                    "monetary policy", "earnings", "taxation", "remittances", "microfinance",
                    "subsidies", "mortgages", "stock returns", "tourism", "retail prices"],
            "kw": ["econometrics", "labour economics", "panel data", "public policy",
                   "inequality"],
            "sents": [
                "We exploit variation in {obj} across {n_sites} regions over {years} years.",
                "A ten percent increase in the minimum wage raised earnings of low-paid workers "
                "without reducing employment.",
                "The results inform the design of fiscal and labour market policy.",
                "Households in the lowest income quintile were most affected by the shock.",
            ],
        },
    },
    {
        "name": "chemistry",
        "prior": 0.45,
        "method": [
            "density functional theory", "molecular dynamics simulations",
            "high-throughput screening", "X-ray crystallography", "NMR spectroscopy",
            "solid-phase synthesis", "graph neural network property prediction",
            "Bayesian optimisation of reaction conditions",
        ],
        "task": ["synthesis", "characterisation", "property prediction", "stability analysis"],
        "metric": ["binding energy", "isolated yield", "selectivity", "activation energy"],
        "kw": ["synthesis", "density functional theory", "molecular dynamics",
               "high-throughput screening", "spectroscopy"],
        "sents": [
            "Compounds were characterised by NMR, mass spectrometry and elemental analysis.",
            "Geometries were optimised at the B3LYP/6-31G(d) level of theory.",
            "Reactions were carried out at {temp} °C under a nitrogen atmosphere.",
            "The {metric} was computed from {n_rep} independent trajectories.",
            "Solubility and stability were measured at pH {ph}.",
            "Crystal structures reveal a planar conformation stabilised by hydrogen bonding.",
            "Concentrations of {conc} μM were used in all experiments.",
            "Kinetic parameters were extracted by fitting to a first-order rate law.",
        ],
        "med": {
            "obj": ["kinase inhibitors", "antibacterial compounds", "antiviral drug candidates",
                    "anticancer agents", "prodrugs", "peptide therapeutics",
                    "opioid receptor ligands"],
            "data": ["enzymatic assays", "cell viability assays",
                     "in vivo pharmacokinetic studies", "a mouse xenograft model"],
            "context": ["drug discovery", "medicinal chemistry", "pharmacology",
                        "antimicrobial therapy"],
            "unit": ["compounds", "analogues", "derivatives"],
            "expert": ["medicinal chemists", "pharmacologists"],
            "stake": ["the treatment of resistant infections", "cancer therapy"],
            "outcome": ["IC50 values", "oral bioavailability", "cytotoxicity",
                        "minimum inhibitory concentrations"],
            "cue": ["IC50", "pharmacokinetics", "bioavailability", "cytotoxicity",
                    "antibacterial activity", "toxicity", "xenografts", "kinase inhibition",
                    "therapeutics", "pharmacophores", "antitumour activity", "plasma exposure",
                    "dosing", "receptor agonists", "antibiotics", "hepatotoxicity"],
            "kw": ["medicinal chemistry", "drug discovery", "kinase inhibitors",
                   "pharmacology", "structure-activity relationship"],
            "sents": [
                "The most potent analogue inhibited the target enzyme with an IC50 of {conc} "
                "nM and showed low cytotoxicity.",
                "Oral administration in mice resulted in favourable plasma exposure.",
                "Structure-activity relationships highlight the role of the sulfonamide group "
                "in target binding.",
                "These {obj} are promising leads for {stake}.",
            ],
        },
        "non": {
            "obj": ["lithium-ion battery cathodes", "solid electrolytes",
                    "CO2 reduction catalysts", "perovskite solar cells",
                    "metal-organic frameworks", "sodium-ion anodes", "corrosion inhibitors",
                    "polymer membranes"],
            "data": ["galvanostatic cycling", "X-ray diffraction patterns",
                     "impedance spectroscopy", "gas adsorption isotherms"],
            "context": ["energy storage", "heterogeneous catalysis", "photovoltaics",
                        "materials chemistry"],
            "unit": ["samples", "cells", "materials"],
            "expert": ["materials scientists", "electrochemists"],
            "stake": ["grid-scale energy storage", "sustainable fuel production"],
            "outcome": ["specific capacity", "ionic conductivity", "Faradaic efficiency",
                        "power conversion efficiency"],
            "cue": ["cathodes", "anodes", "electrolytes", "lithium", "catalysts",
                    "photovoltaics", "perovskites", "electrodes", "dendrites",
                    "hydrogen evolution", "solar cells", "alloys", "supercapacitors",
                    "fuel cells", "zeolites", "lubricants"],
            "kw": ["energy storage", "batteries", "electrochemistry", "catalysis",
                   "materials chemistry"],
            "sents": [
                "The optimised cathode delivered a specific capacity of {cap} mAh g⁻¹ after "
                "{n_small} cycles.",
                "Doping improved ionic conductivity by an order of magnitude at room "
                "temperature.",
                "These {obj} are promising for {stake}.",
                "Post-mortem analysis revealed suppressed dendrite growth at the electrode "
                "interface.",
            ],
        },
    },
    {
        "name": "signal",
        "prior": 0.45,
        "method": [
            "wavelet transform", "short-time Fourier transform", "adaptive filtering",
            "empirical mode decomposition", "recurrent neural network", "sparse representation",
            "Kalman filter", "one-dimensional convolutional network",
        ],
        "task": ["denoising", "anomaly detection", "event classification",
                 "feature extraction"],
        "metric": ["signal-to-noise ratio", "detection accuracy", "sensitivity",
                   "false alarm rate"],
        "kw": ["signal processing", "time-frequency analysis", "wavelets",
               "deep learning", "anomaly detection"],
        "sents": [
            "Signals were band-pass filtered and resampled at {fs} Hz before feature "
            "extraction.",
            "Time-frequency features were extracted with a {method}.",
            "A sliding window of {win} ms with {overlap}% overlap was used.",
            "The detector achieves a {metric} of {pct}% at a false alarm rate below {fa}%.",
            "Noise robustness was assessed by adding white Gaussian noise at varying "
            "signal-to-noise ratios.",
            "The algorithm runs in real time on a low-power microcontroller with a latency of "
            "{lat} μs.",
            "Spectral features and statistical moments were concatenated into a single feature "
            "vector.",
        ],
        "med": {
            "obj": ["atrial fibrillation", "epileptic seizures", "sleep apnea", "arrhythmias",
                    "ventricular ectopic beats", "sleep stages"],
            "data": ["ECG recordings", "EEG recordings", "polysomnography",
                     "Holter monitoring", "photoplethysmography signals"],
            "context": ["cardiology", "intensive care", "neurology", "sleep medicine"],
            "unit": ["patients", "recordings", "subjects"],
            "expert": ["cardiologists", "neurologists"],
            "stake": ["early diagnosis", "continuous patient monitoring"],
            "outcome": ["heart rhythm", "seizure onset"],
            "cue": ["ECG", "EEG", "arrhythmia", "seizures", "heartbeats", "QRS complexes",
                    "epilepsy", "apnea", "electrocardiograms", "myocardial infarction",
                    "Holter", "intensive care", "fibrillation", "electromyography",
                    "blood pressure", "narcolepsy"],
            "kw": ["ECG", "EEG", "biomedical signal processing", "arrhythmia detection",
                   "seizure detection"],
            "sents": [
                "Early detection of {obj} from {data} can prevent serious complications.",
                "The method was evaluated on the MIT-BIH database and on {n_small} patients "
                "recorded in an intensive care unit.",
                "QRS complexes were detected with an adaptive threshold.",
                "Annotations by two cardiologists served as the reference.",
            ],
        },
        "non": {
            "obj": ["bearing faults", "radar targets", "seismic events", "gearbox faults",
                    "underwater acoustic sources", "power-line disturbances",
                    "drone signatures"],
            "data": ["vibration signals", "radar returns", "seismograms", "sonar recordings",
                     "acoustic emission signals", "power quality measurements"],
            "context": ["condition monitoring", "radar surveillance", "seismology",
                        "predictive maintenance"],
            "unit": ["recordings", "machines", "signals"],
            "expert": ["maintenance engineers", "radar operators"],
            "stake": ["predictive maintenance", "early warning systems"],
            "outcome": ["remaining useful life", "target range"],
            "cue": ["radar", "bearings", "gearboxes", "seismic", "sonar", "turbines",
                    "Doppler", "clutter", "machinery", "earthquakes", "rotors", "pipelines",
                    "inverters", "antennas", "power grids", "hydrophones"],
            "kw": ["fault diagnosis", "radar signal processing", "condition monitoring",
                   "vibration analysis", "machine health monitoring"],
            "sents": [
                "Fault diagnosis of {obj} from {data} is critical for {stake}.",
                "The health of rotating machinery is assessed from features of the vibration "
                "spectrum.",
                "Experiments on a bearing test rig show that incipient faults are detected "
                "earlier than with envelope analysis.",
                "Doppler processing separates moving targets from stationary clutter.",
                "Symptoms of degradation appear as sidebands around the gear mesh frequency.",
            ],
        },
    },
    {
        "name": "nlp",
        "prior": 0.45,
        "method": [
            "transformer language model", "named entity recognition model",
            "BERT-based classifier", "information extraction pipeline",
            "retrieval-augmented generation", "sequence labelling model", "few-shot prompting",
            "topic model",
        ],
        "task": ["text classification", "entity extraction", "relation extraction",
                 "summarisation"],
        "metric": ["micro-averaged F1", "exact match accuracy", "ROUGE-L", "precision"],
        "kw": ["natural language processing", "information extraction",
               "large language models", "text classification", "transformers"],
        "sents": [
            "We fine-tune a pretrained {method} on {n_small} annotated documents.",
            "Documents are split into overlapping chunks of {tok} tokens.",
            "Inter-annotator agreement was high (Cohen's κ = 0.{kappa}).",
            "Large language models were prompted with a small number of in-context examples.",
            "Error analysis shows that most mistakes involve negation and abbreviations.",
            "Domain-adaptive pre-training on unlabelled text further improves the {metric}.",
            "We release the annotation guidelines and the trained models.",
        ],
        "med": {
            "obj": ["clinical notes", "discharge summaries", "radiology reports",
                    "adverse drug events", "medication mentions", "patient-reported symptoms"],
            "data": ["electronic health records", "the MIMIC-III database",
                     "pathology reports", "clinical trial registries"],
            "context": ["clinical decision support", "pharmacovigilance",
                        "hospital documentation"],
            "unit": ["patients", "notes", "reports"],
            "expert": ["physicians", "clinical coders", "nurses"],
            "stake": ["clinicians", "patient safety"],
            "outcome": ["diagnosis codes", "adverse events"],
            "cue": ["EHR", "medications", "discharge letters", "ICD-10", "symptoms", "MIMIC",
                    "nursing", "pharmacovigilance", "adverse drug reactions", "physicians",
                    "radiology reports", "dosages", "triage", "comorbidity", "prescriptions",
                    "psychiatric"],
            "kw": ["clinical NLP", "electronic health records", "biomedical text mining",
                   "pharmacovigilance"],
            "sents": [
                "Extracting {obj} from free-text {data} is essential for {stake}.",
                "Notes were de-identified before annotation to protect patient privacy.",
                "The system identified medication names, dosages and adverse reactions.",
                "Clinical coders spend considerable time assigning ICD-10 codes manually.",
            ],
        },
        "non": {
            "obj": ["legal contracts", "court decisions", "financial reports", "patent claims",
                    "news articles", "customer reviews", "regulatory filings"],
            "data": ["a corpus of commercial contracts", "court records", "annual reports",
                     "the SEC EDGAR database", "online forums"],
            "context": ["legal practice", "financial analysis", "regulatory compliance",
                        "e-discovery"],
            "unit": ["documents", "contracts", "filings"],
            "expert": ["lawyers", "paralegals", "financial analysts"],
            "stake": ["legal professionals", "investors"],
            "outcome": ["contract clauses", "case outcomes", "sentiment"],
            "cue": ["contracts", "clauses", "courts", "litigation", "statutes", "judgments",
                    "earnings calls", "patents", "jurisdiction", "tenancy agreements",
                    "invoices", "newsrooms", "tweets", "product reviews", "insurance claims",
                    "parliamentary debates"],
            "kw": ["legal NLP", "contract analysis", "financial text mining",
                   "document understanding"],
            "sents": [
                "Extracting {obj} from {data} is essential for {stake}.",
                "Lawyers review termination and indemnity clauses manually, a costly process.",
                "Court decisions were anonymised before release.",
                "The system identified parties, obligations and governing-law clauses.",
            ],
        },
    },
    {
        "name": "scheduling",
        "prior": 0.38,
        "method": [
            "mixed-integer linear programming", "column generation", "constraint programming",
            "genetic algorithm", "simulated annealing", "reinforcement learning",
            "stochastic programming", "large neighbourhood search",
        ],
        "task": ["scheduling", "rostering", "resource allocation", "capacity planning"],
        "metric": ["total cost", "makespan", "average waiting time", "utilisation"],
        "kw": ["operations research", "scheduling", "integer programming", "metaheuristics",
               "optimisation"],
        "sents": [
            "The problem is formulated as a {method} model with {vars} binary variables.",
            "A {method} heuristic finds near-optimal solutions within {sec} seconds.",
            "Uncertainty in demand is captured by a set of scenarios sampled from historical "
            "data.",
            "Compared with the current manual plan, the optimised schedule reduces the {metric} "
            "by {pct}%.",
            "The optimality gap remained below {gap}% on all instances.",
            "We propose valid inequalities that tighten the linear relaxation.",
            "Computational experiments on {n_small} benchmark instances show the efficiency of "
            "the approach.",
        ],
        "med": {
            "obj": ["operating room scheduling", "nurse rostering", "ambulance dispatching",
                    "patient admission planning", "outpatient appointment booking",
                    "bed management", "organ allocation", "vaccine distribution"],
            "data": ["hospital admission records", "surgical case logs",
                     "emergency department data"],
            "context": ["healthcare operations", "hospital management",
                        "emergency medical services"],
            "unit": ["patients", "surgeries", "nurses", "beds"],
            "expert": ["hospital managers", "head nurses", "surgeons"],
            "stake": ["patients and hospital staff", "timely access to care"],
            "outcome": ["patient waiting times", "overtime of surgical teams", "bed occupancy"],
            "cue": ["surgeons", "nurses", "ambulances", "wards", "outpatients",
                    "emergency departments", "operating theatres", "elective surgery",
                    "transplants", "admissions", "radiotherapy sessions", "chemotherapy",
                    "dialysis", "midwives", "pharmacies", "home care"],
            "kw": ["healthcare operations", "operating room scheduling", "nurse rostering",
                   "hospital logistics"],
            "sents": [
                "{Obj_cap} must balance patient waiting times against staff overtime.",
                "The model was validated with data from a {n_small}-bed university hospital.",
                "Emergency arrivals disrupt elective surgery schedules.",
                "Nurse preferences and labour regulations are modelled as soft constraints.",
            ],
        },
        "non": {
            "obj": ["airline crew scheduling", "job-shop scheduling", "vehicle routing",
                    "train timetabling", "berth allocation", "warehouse order picking",
                    "semiconductor fab scheduling"],
            "data": ["airline timetables", "production logs",
                     "GPS traces of delivery vehicles", "port call records"],
            "context": ["airline operations", "manufacturing", "logistics",
                        "public transport"],
            "unit": ["flights", "jobs", "vehicles", "orders", "trains"],
            "expert": ["planners", "dispatchers", "production managers"],
            "stake": ["airlines and passengers", "manufacturers"],
            "outcome": ["fuel cost", "tardiness", "delivery delays"],
            "cue": ["airlines", "crews", "flights", "factories", "vehicle routing", "trains",
                    "warehouses", "depots", "containers", "fleets", "pickups", "timetables",
                    "airports", "shipping", "buses", "refineries"],
            "kw": ["crew scheduling", "vehicle routing", "production planning", "logistics"],
            "sents": [
                "{Obj_cap} must balance operating costs against service levels.",
                "The model was validated with data from a major carrier operating {n_small} "
                "daily flights.",
                "Machine breakdowns disrupt production schedules.",
                "Crew preferences and labour regulations are modelled as soft constraints.",
            ],
        },
    },
    {
        "name": "spreading",
        "prior": 0.58,
        "method": [
            "compartmental model", "agent-based simulation", "network-based model",
            "branching process", "stochastic differential equation model",
            "mean-field approximation", "Bayesian transmission model", "graph neural network",
        ],
        "task": ["outbreak prediction", "source identification", "containment",
                 "spread modelling"],
        "metric": ["basic reproduction number", "final outbreak size", "epidemic threshold",
                   "peak prevalence"],
        "kw": ["epidemic models", "network science", "complex networks", "SIR model",
               "agent-based modelling"],
        "sents": [
            "We model the spreading process with a susceptible-infected-recovered "
            "{method}.",
            "The epidemic threshold depends on the spectral radius of the contact network.",
            "Parameters were estimated by approximate Bayesian computation.",
            "Targeted immunisation of highly connected nodes is compared with random "
            "strategies.",
            "Simulations were repeated {n_rep} times on synthetic scale-free networks.",
            "The {metric} was estimated at {r0} (95% CI {r0lo}–{r0hi}).",
        ],
        "med": {
            "obj": ["COVID-19", "influenza", "measles", "tuberculosis", "dengue fever",
                    "cholera", "HIV", "Ebola virus disease"],
            "data": ["case notification data", "hospitalisation counts",
                     "contact tracing data", "serological surveys"],
            "context": ["infectious disease epidemiology", "public health",
                        "outbreak response"],
            "unit": ["cases", "individuals", "patients"],
            "expert": ["public health authorities", "epidemiologists"],
            "stake": ["vaccination campaigns", "public health interventions"],
            "outcome": ["hospital admissions", "incidence", "deaths"],
            "cue": ["COVID-19", "SARS-CoV-2", "influenza", "measles", "tuberculosis",
                    "vaccination", "pandemic", "pathogens", "hospitalisations", "malaria",
                    "dengue", "serology", "infectious diseases", "mpox", "pertussis",
                    "zoonoses"],
            "kw": ["infectious diseases", "COVID-19", "vaccination", "transmission dynamics"],
            "sents": [
                "Transmission of {obj} was modelled using {data}.",
                "Vaccination coverage above {pct}% would be required to prevent resurgence.",
                "School closures and social distancing reduced transmission substantially.",
                "Hospital capacity was exceeded in {n_sites} districts at the peak.",
            ],
        },
        "non": {
            "obj": ["computer worms", "misinformation", "rumours", "malware", "botnets",
                    "online memes", "ransomware"],
            "data": ["Twitter cascades", "network telemetry", "honeypot logs",
                     "social media posts", "email logs"],
            "context": ["computer security", "online social networks",
                        "information diffusion"],
            "unit": ["hosts", "users", "accounts", "devices"],
            "expert": ["security analysts", "platform moderators"],
            "stake": ["network defenders", "social media platforms"],
            "outcome": ["infected hosts", "retweets", "compromised devices"],
            "cue": ["malware", "worms", "botnets", "rumours", "retweets", "Twitter",
                    "misinformation", "ransomware", "firewalls", "phishing", "hashtags",
                    "intrusion detection", "exploits", "memes", "spam", "viral marketing"],
            "kw": ["information diffusion", "computer virus", "malware propagation",
                   "social networks", "cybersecurity"],
            "sents": [
                "Propagation of {obj} was modelled using {data}.",
                "A computer virus spreads by infecting vulnerable hosts, much like a "
                "biological pathogen.",
                "Patching {pct}% of hosts would be required to prevent re-infection.",
                "Infected machines were quarantined by the intrusion detection system.",
                "Fact-checking interventions acted as a vaccine against misinformation.",
            ],
        },
    },
    {
        "name": "genomics",
        "prior": 0.55,
        "method": [
            "genome-wide association study", "RNA sequencing", "single-cell transcriptomics",
            "CRISPR screening", "variant calling pipeline", "phylogenetic analysis",
            "metagenomic sequencing", "gene regulatory network inference",
        ],
        "task": ["gene expression analysis", "variant detection", "functional annotation",
                 "association mapping"],
        "metric": ["false discovery rate", "heritability", "expression fold change",
                   "area under the ROC curve"],
        "kw": ["genomics", "RNA-seq", "GWAS", "transcriptomics", "bioinformatics"],
        "sents": [
            "Reads were aligned to the reference genome and variants were called with GATK.",
            "Differential expression was assessed with DESeq2 at a false discovery rate below "
            "5%.",
            "Clustering of {n} single cells revealed distinct transcriptional states.",
            "Gene set enrichment analysis identified pathways related to stress response.",
            "Samples were sequenced to a mean depth of {depth}× on an Illumina platform.",
            "Population structure was controlled with principal components.",
        ],
        "med": {
            "obj": ["breast cancer", "Alzheimer's disease", "rare genetic disorders",
                    "antimicrobial resistance in hospital pathogens",
                    "inflammatory bowel disease", "leukaemia"],
            "data": ["tumour biopsies", "patient blood samples", "a biobank cohort",
                     "clinical isolates"],
            "context": ["precision medicine", "clinical genetics", "oncology"],
            "unit": ["patients", "cases and controls"],
            "expert": ["clinical geneticists", "oncologists"],
            "stake": ["targeted therapy", "genetic diagnosis"],
            "outcome": ["disease risk", "treatment response"],
            "cue": ["tumours", "leukaemia", "germline variants", "somatic mutations",
                    "therapy response", "mutation carriers", "prognosis", "biobanks",
                    "Alzheimer's", "pathogenic variants", "inherited disorders", "lymphoma",
                    "autism", "schizophrenia", "sepsis", "hospital-acquired infections"],
            "kw": ["cancer genomics", "precision medicine", "genetic variants", "biomarkers",
                   "disease genetics"],
            "sents": [
                "Somatic mutations in {obj} were associated with poor survival.",
                "A polygenic risk score stratified patients into clinically relevant risk "
                "groups.",
                "Pathogenic variants were confirmed by Sanger sequencing in affected family "
                "members.",
                "These biomarkers may guide {stake}.",
            ],
        },
        "non": {
            "obj": ["drought tolerance in maize", "wheat grain yield", "coral heat tolerance",
                    "soil microbial communities", "fruit ripening in tomato",
                    "plant disease resistance", "adaptation in stickleback fish"],
            "data": ["field trials", "leaf tissue samples", "soil cores", "wild populations"],
            "context": ["plant breeding", "ecology", "evolutionary biology", "agriculture"],
            "unit": ["plants", "accessions", "inbred lines", "individuals"],
            "expert": ["breeders", "ecologists"],
            "stake": ["crop improvement", "biodiversity conservation"],
            "outcome": ["grain yield", "flowering time"],
            "cue": ["maize", "wheat", "Arabidopsis", "crops", "soil", "cultivars", "seedlings",
                    "drought", "rice", "corals", "fungi", "leaves", "pollinators", "barley",
                    "grapevine", "zebrafish"],
            "kw": ["plant genomics", "crop breeding", "evolutionary genomics", "ecology",
                   "metagenomics"],
            "sents": [
                "Quantitative trait loci for {obj} were mapped in {n_small} inbred lines.",
                "Resistance to the fungal pathogen was mapped to a single locus on chromosome "
                "{chrom}.",
                "Infected leaves showed up-regulation of defence-related genes.",
                "These markers may accelerate {stake}.",
            ],
        },
    },
    {
        "name": "materials",
        "prior": 0.40,
        "method": [
            "finite element analysis", "nanoindentation", "additive manufacturing",
            "electrospinning", "fatigue testing", "scanning electron microscopy",
            "digital image correlation", "topology optimisation",
        ],
        "task": ["mechanical characterisation", "design optimisation", "fabrication",
                 "failure analysis"],
        "metric": ["Young's modulus", "ultimate tensile strength", "porosity",
                   "fatigue life"],
        "kw": ["finite element method", "additive manufacturing", "mechanical properties",
               "fatigue", "porous materials"],
        "sents": [
            "Specimens were fabricated by {method} and tested under cyclic loading.",
            "The {metric} increased with decreasing porosity, reaching {mpa} MPa.",
            "A finite element model with {vars} elements reproduced the measured strain "
            "fields.",
            "Fracture surfaces were examined by scanning electron microscopy.",
            "Pore sizes ranged from {pore} to {pore2} μm.",
            "Samples were annealed at {temp} °C for {hours} hours.",
            "Damage initiation was detected with acoustic emission sensors.",
        ],
        "med": {
            "obj": ["bone scaffolds", "dental implants", "vascular stents", "hip prostheses",
                    "wound dressings", "cartilage constructs"],
            "data": ["in vitro cell culture", "animal implantation studies",
                     "retrieved implants"],
            "context": ["tissue engineering", "orthopaedics", "regenerative medicine"],
            "unit": ["specimens", "implants", "animals"],
            "expert": ["orthopaedic surgeons", "dentists"],
            "stake": ["bone regeneration", "implant longevity"],
            "outcome": ["osseointegration", "cell proliferation"],
            "cue": ["biocompatibility", "osseointegration", "implants", "orthopaedics",
                    "osteoblasts", "dental", "stents", "prostheses", "wound healing",
                    "cartilage", "fibroblasts", "bone ingrowth", "haemocompatibility",
                    "tendons", "sutures", "contact lenses"],
            "kw": ["biomaterials", "tissue engineering", "bone scaffolds", "implants"],
            "sents": [
                "Osteoblast proliferation on the {obj} increased over {days} days of culture.",
                "Implantation in a rabbit femoral defect model confirmed new bone formation.",
                "The stiffness of the scaffold was tuned to match that of trabecular bone.",
                "These results support the clinical translation of {obj}.",
            ],
        },
        "non": {
            "obj": ["aircraft wing panels", "wind turbine blades", "bridge girders",
                    "automotive crash structures", "pressure vessels",
                    "lattice heat exchangers"],
            "data": ["strain gauge measurements", "acoustic emission data",
                     "ultrasonic inspections"],
            "context": ["aerospace engineering", "civil infrastructure", "automotive design"],
            "unit": ["specimens", "panels", "components"],
            "expert": ["structural engineers", "inspectors"],
            "stake": ["structural health monitoring", "lightweight design"],
            "outcome": ["crack growth", "energy absorption"],
            "cue": ["aircraft", "bridges", "turbine blades", "automotive", "welds",
                    "composite laminates", "concrete", "aerospace", "corrosion", "steel",
                    "crashworthiness", "delamination", "offshore", "railways", "fuselages",
                    "masonry"],
            "kw": ["structural health monitoring", "composites", "aerospace structures",
                   "civil engineering"],
            "sents": [
                "Structural health monitoring of {obj} relies on early detection of damage.",
                "Full-scale tests on {obj} confirmed the numerical predictions.",
                "The fatigue life of welded joints was reduced by corrosion.",
                "The design reduces mass by {pct}% while meeting stiffness requirements.",
            ],
        },
    },
    {
        "name": "wearables",
        "prior": 0.45,
        "method": [
            "inertial sensing", "federated learning", "edge computing",
            "human activity recognition", "transfer learning",
            "low-power wireless sensor network", "time-series forecasting",
            "gradient-boosted trees",
        ],
        "task": ["activity recognition", "monitoring", "forecasting", "event detection"],
        "metric": ["balanced accuracy", "F1 score", "mean absolute error",
                   "battery lifetime"],
        "kw": ["wearable sensors", "Internet of Things", "edge computing",
               "activity recognition", "federated learning"],
        "sents": [
            "Accelerometer and gyroscope data were sampled at {fs} Hz.",
            "Models were compressed to run on a microcontroller with {kb} kB of memory.",
            "Federated training keeps raw data on the devices.",
            "The system reached {metric} = {score} in leave-one-subject-out evaluation.",
            "Energy consumption was reduced by duty cycling the radio.",
            "Signals were segmented into windows of {sec} seconds.",
        ],
        "med": {
            "obj": ["fall detection in older adults", "gait abnormalities in Parkinson's disease",
                    "glucose monitoring", "post-stroke rehabilitation",
                    "heart failure decompensation"],
            "data": ["wrist-worn sensors", "continuous glucose monitors",
                     "smartphone sensors of patients"],
            "context": ["remote patient monitoring", "geriatric care", "rehabilitation"],
            "unit": ["patients", "older adults", "participants"],
            "expert": ["physiotherapists", "geriatricians", "clinicians"],
            "stake": ["independent living of older adults", "telemedicine"],
            "outcome": ["falls", "hypoglycaemia", "gait speed"],
            "cue": ["older adults", "Parkinson's", "rehabilitation", "glucose", "stroke",
                    "falls", "frailty", "diabetes", "tremor", "caregivers", "nursing homes",
                    "wheelchairs", "heart failure", "insulin", "telemedicine", "dementia"],
            "kw": ["remote patient monitoring", "fall detection", "digital health",
                   "telemedicine"],
            "sents": [
                "Falls are a leading cause of injury among older adults living alone.",
                "The system detected {obj_short} events with a sensitivity of {pct}% in a "
                "cohort of {n_small} patients.",
                "Clinicians received alerts through a secure telemedicine platform.",
                "Adherence to wearing the device exceeded {pct}% over the study period.",
            ],
            "obj_short": ["fall", "freezing-of-gait", "hypoglycaemic"],
        },
        "non": {
            "obj": ["building occupancy", "household energy consumption",
                    "industrial equipment usage", "worker activity on construction sites",
                    "athlete performance", "livestock behaviour"],
            "data": ["smart meters", "wrist-worn sensors of workers", "collar-mounted sensors"],
            "context": ["smart buildings", "energy management", "sports analytics",
                        "precision livestock farming"],
            "unit": ["buildings", "workers", "athletes", "animals"],
            "expert": ["facility managers", "coaches", "farmers"],
            "stake": ["energy savings", "worker productivity"],
            "outcome": ["occupancy", "energy demand", "training load"],
            "cue": ["occupancy", "smart homes", "energy consumption", "HVAC", "athletes",
                    "construction workers", "livestock", "smart meters", "thermostats",
                    "appliances", "football", "cattle", "lighting", "solar panels", "cyclists",
                    "office buildings"],
            "kw": ["smart buildings", "energy management", "sports analytics",
                   "precision livestock farming"],
            "sents": [
                "Heating and cooling account for a large share of energy use in office "
                "buildings.",
                "The system detected {obj_short} events with an accuracy of {pct}% across "
                "{n_small} buildings.",
                "Facility managers received alerts through a web dashboard.",
                "Predicted occupancy drives the HVAC set-points.",
            ],
            "obj_short": ["occupancy", "appliance", "sprint"],
        },
    },
    {
        "name": "robotics",
        "prior": 0.40,
        "method": [
            "model predictive control", "deep reinforcement learning", "impedance control",
            "visual servoing", "sampling-based motion planning", "teleoperation",
            "soft pneumatic actuators", "haptic force feedback",
        ],
        "task": ["control", "motion planning", "manipulation", "navigation"],
        "metric": ["tracking error", "success rate", "completion time", "positioning accuracy"],
        "kw": ["robotics", "control", "reinforcement learning", "motion planning",
               "soft robotics"],
        "sents": [
            "The controller guarantees stability under bounded disturbances.",
            "Policies trained in simulation were transferred to the physical robot with domain "
            "randomisation.",
            "The mean {metric} was {mm} ± {mm2} mm.",
            "Force sensing at the end effector enables compliant interaction.",
            "The robot was actuated by {n_act} motors controlled at {fs} Hz.",
            "A user study with {n_users} participants assessed usability.",
        ],
        "med": {
            "obj": ["robot-assisted laparoscopy", "upper-limb rehabilitation",
                    "needle insertion", "lower-limb exoskeletons", "prosthetic hands",
                    "catheter navigation"],
            "data": ["phantom experiments", "cadaver trials", "trials with stroke survivors"],
            "context": ["minimally invasive surgery", "rehabilitation medicine",
                        "interventional radiology"],
            "unit": ["patients", "procedures", "surgeons"],
            "expert": ["surgeons", "physiotherapists", "therapists"],
            "stake": ["surgical safety", "motor recovery"],
            "outcome": ["tissue damage", "motor function"],
            "cue": ["laparoscopy", "rehabilitation", "prostheses", "stroke survivors",
                    "catheters", "surgeons", "endoscopes", "amputees", "exoskeletons",
                    "needle insertion", "soft tissue", "therapists", "spinal cord injury",
                    "orthoses", "biopsy", "cochlear implants"],
            "kw": ["surgical robotics", "rehabilitation robotics", "medical robots",
                   "prosthetics"],
            "sents": [
                "Surgeons completed the suturing task faster with haptic guidance.",
                "Ex vivo experiments on porcine tissue validated {obj}.",
                "Stroke survivors trained with the device for {weeks} weeks.",
                "The system reduced tissue damage compared with manual insertion.",
            ],
        },
        "non": {
            "obj": ["warehouse picking", "fruit harvesting", "inspection drones",
                    "underwater manipulation", "assembly of automotive parts",
                    "exoskeletons for industrial workers"],
            "data": ["field trials in orchards", "warehouse experiments",
                     "tests in a water tank"],
            "context": ["logistics automation", "agricultural robotics", "industrial assembly"],
            "unit": ["objects", "trials", "grasps"],
            "expert": ["operators", "line workers"],
            "stake": ["flexible manufacturing", "labour shortages in agriculture"],
            "outcome": ["picking throughput", "assembly time"],
            "cue": ["warehouses", "harvesting", "drones", "underwater", "assembly lines",
                    "orchards", "mobile robots", "inspection", "welding", "excavators",
                    "legged robots", "quadrotors", "pick-and-place", "forklifts", "greenhouses",
                    "shipyards"],
            "kw": ["field robotics", "grasping", "industrial automation", "aerial robotics"],
            "sents": [
                "Operators completed the assembly task faster with haptic guidance.",
                "Field experiments in a commercial orchard validated {obj}.",
                "Line workers wore the exoskeleton for {weeks} weeks.",
                "The system reduced product damage compared with manual picking.",
            ],
        },
    },
    {
        "name": "microscopy",
        "prior": 0.50,
        "method": [
            "self-supervised representation learning", "multiple instance learning",
            "stain normalisation", "graph neural network", "contrastive learning",
            "image registration", "super-resolution network", "weakly supervised learning",
        ],
        "task": ["image classification", "object detection", "image retrieval",
                 "quantitative image analysis"],
        "metric": ["AUC", "balanced accuracy", "mean average precision", "top-5 accuracy"],
        "kw": ["microscopy", "image analysis", "deep learning", "self-supervised learning",
               "multiple instance learning"],
        "sents": [
            "Gigapixel images were tiled into patches of {px} × {px} pixels.",
            "Patch embeddings were aggregated with an attention-based pooling layer.",
            "The {method} was pre-trained on {n} unlabelled patches.",
            "Colour variation between scanners was reduced by normalisation.",
            "Images were acquired at {mag}× magnification with a pixel size of 0.{px2} μm.",
            "Attention maps highlight the regions that drive each prediction.",
        ],
        "med": {
            "obj": ["whole-slide histopathology images", "blood smears",
                    "cytology specimens", "tumour-infiltrating lymphocytes",
                    "kidney biopsies"],
            "data": ["H&E-stained slides", "biopsy specimens",
                     "slides from The Cancer Genome Atlas"],
            "context": ["digital pathology", "haematology", "cancer diagnosis"],
            "unit": ["slides", "patients", "biopsies"],
            "expert": ["pathologists", "haematologists"],
            "stake": ["cancer grading", "diagnostic workflows"],
            "outcome": ["tumour grade", "survival"],
            "cue": ["histopathology", "biopsies", "lymphocytes", "pathologists",
                    "malignancy", "Gleason grading", "metastasis", "H&E", "cytology",
                    "leukocytes", "carcinoma", "malaria parasites", "mitoses",
                    "immunohistochemistry", "sentinel lymph nodes", "Pap smears"],
            "kw": ["digital pathology", "histopathology", "cancer diagnosis",
                   "computational pathology"],
            "sents": [
                "Pathologists annotated {n_small} slides with tumour regions.",
                "The model predicted Gleason grade groups with substantial agreement with "
                "expert pathologists.",
                "Mitotic figures were counted automatically in {obj}.",
                "External validation on slides from {n_sites} hospitals confirmed "
                "generalisation.",
            ],
        },
        "non": {
            "obj": ["steel microstructures", "mineral grains", "integrated circuit defects",
                    "pollen grains", "plankton images", "fracture surfaces of alloys"],
            "data": ["optical micrographs", "SEM images", "wafer inspection images"],
            "context": ["metallurgy", "semiconductor manufacturing", "geology",
                        "marine ecology"],
            "unit": ["micrographs", "wafers", "samples"],
            "expert": ["metallurgists", "geologists", "process engineers"],
            "stake": ["quality control", "process optimisation"],
            "outcome": ["grain size", "defect density"],
            "cue": ["grain boundaries", "alloys", "wafers", "semiconductors", "minerals",
                    "plankton", "pollen", "fractography", "metallurgy", "petrography",
                    "rocks", "ceramics", "crystallites", "phytoplankton", "thin films",
                    "welds"],
            "kw": ["materials characterisation", "metallography", "defect inspection",
                   "semiconductor manufacturing"],
            "sents": [
                "Metallurgists annotated {n_small} micrographs with phase regions.",
                "The model predicted steel grades with substantial agreement with expert "
                "metallurgists.",
                "Defects were counted automatically in {obj}.",
                "External validation on wafers from {n_sites} fabs confirmed generalisation.",
            ],
        },
    },
]

# Templates shared by every topic and both classes; domain words only enter through slots.
_DOMAIN_TEMPLATES = [
    "{Task_cap} of {obj} remains a major challenge in {context}.",
    "Accurate {task} of {obj} is essential for {stake}.",
    "We evaluate the approach on {data} comprising {n} {unit}.",
    "Existing approaches rely heavily on manual work by {expert}.",
    "Data were obtained from {data} collected at {n_sites} sites.",
    "A total of {n} {unit} were included in the final analysis.",
    "These results suggest that {method} can support decision making in {context}.",
    "Our findings have practical implications for {stake}.",
    "{Expert_cap} reviewed a random subset of {n_small} {unit} to assess agreement.",
    "The proposed approach improves the prediction of {outcome} compared with current "
    "practice in {context}.",
    "Recent advances in {method} have opened new opportunities in {context}.",
    "To our knowledge, this is the largest study of {obj} using {data}.",
    "Performance was consistent across {unit} from different sites.",
    "We focus on {obj}, a setting in which labelled data are scarce.",
    "Feedback from {expert} indicated that the outputs were useful in practice.",
    "Interest in {obj} has grown rapidly in {context}.",
    "Most previous studies of {obj} relied on small samples of {unit}.",
]
_DOMAIN_INTROS = [
    "{Task_cap} of {obj} remains a major challenge in {context}.",
    "Interest in {obj} has grown rapidly in {context}.",
    "Accurate {task} of {obj} is essential for {stake}.",
    "Recent advances in {method} have opened new opportunities in {context}.",
]
_GENERIC_INTROS = [
    "{Task_cap} is a fundamental problem with many applications.",
    "Despite recent progress, {task} remains challenging when labelled data are scarce.",
    "{Method_cap} has become a popular tool for {task}.",
    "Many real-world problems require reliable {task} under {condition}.",
    "We study {task} in settings affected by {condition}.",
]
_GENERIC_METHOD = [
    "In this paper, we propose {a_adj} framework based on {method}.",
    "To address these limitations, we introduce {a_adj} variant of {method} that is robust to "
    "{condition}.",
    "Hyperparameters were selected by {k}-fold cross-validation on the training set.",
    "We compare the proposed method with {n_base} competitive baselines, including "
    "{method2}.",
    "The approach combines {method} with {method2} in a single pipeline.",
    "Our formulation admits an efficient solution whose cost grows linearly with the size of "
    "the data.",
    "We provide a theoretical analysis of convergence under mild assumptions.",
    "An open-source implementation is provided to facilitate reproducibility.",
    "The method requires no manual feature engineering.",
    "Uncertainty was quantified with bootstrap resampling over {n_boot} replicates.",
    "Model selection was based on the {metric} on a held-out validation set.",
    "We further study the sensitivity of the method to its main hyperparameters.",
    "Prior work has largely ignored {condition}, which is common in practice.",
    "All preprocessing steps were fixed before the test data were examined.",
    "The data were split chronologically to avoid information leakage.",
    "We formalise {task} as an optimisation problem with interpretable constraints.",
]
_GENERIC_RESULTS = [
    "The proposed method obtained {metric} = {score} ± {sd}, outperforming all baselines.",
    "Compared with {method2}, our approach improved the {metric} by {pct}%.",
    "Differences were statistically significant (p < {p}).",
    "Ablation studies confirm the contribution of each component.",
    "Performance degraded gracefully under {condition}.",
    "Results are reported as mean ± standard deviation over {n_rep} runs.",
    "The largest gains were observed for small and rare instances.",
    "A threshold of ≥ {thr} yielded the best trade-off between precision and recall.",
    "Inference takes {ms} ms per sample on commodity hardware.",
    "Errors were mostly due to ambiguous or low-quality inputs.",
    "Agreement with the reference was good (r = 0.{kappa}, n = {n_small}).",
    "Runtime was reduced by a factor of {factor} without loss of accuracy.",
]
_CONCLUSIONS = [
    "These results demonstrate the potential of {method} for {task}.",
    "Future work will extend the approach to {condition}.",
    "Overall, the proposed framework offers a practical and {adj} solution.",
    "Our code is publicly available.",
    "We discuss limitations and directions for future research.",
]
# Weak-cue sentences: the only domain signal is one (often rare) word.
_WEAK_TEMPLATES = [
    "We illustrate the method with a case study involving {cue}.",
    "One of the evaluation datasets concerns {cue}.",
    "As a motivating example, we consider {cue}.",
    "Potential applications include problems related to {cue}.",
    "The benchmark used for evaluation includes data on {cue}.",
]
# Cross-domain sentences: medical words in non-medical papers and the reverse.
_CONFOUNDERS_NON = [
    "Similar architectures have achieved strong results in medical imaging, which motivates "
    "their use here.",
    "Unlike clinical applications, our setting does not require regulatory approval.",
    "The approach could in principle be transferred to healthcare, which we leave for future "
    "work.",
    "Borrowing the terminology of medicine, we call this step the diagnosis of the system.",
    "Anomalies are treated as symptoms of an underlying fault.",
    "The idea is inspired by how the immune system recognises foreign agents.",
    "As in epidemiology, we distinguish between incidence and prevalence of failures.",
]
_CONFOUNDERS_MED = [
    "Techniques originally developed for autonomous driving and industrial inspection "
    "inspired our design.",
    "The formulation is similar to problems studied in logistics and manufacturing.",
    "We adopt tools from signal processing and control engineering.",
    "Methods from econometrics were adapted to this setting.",
    "The same pipeline has been used for satellite imagery and financial documents.",
]
_DOMAIN_TITLES = [
    "{Method_cap} for {task} of {obj}",
    "{Task_cap} of {obj} from {data} using {method}",
    "{A_adj_cap} {method} approach to {obj}",
    "Towards reliable {task} of {obj} in {context}",
    "{Obj_cap}: {a_adj} framework based on {method}",
    "Evaluating {method} for {obj}: evidence from {data}",
    "Improving {task} of {obj} with {method}",
]
_GENERIC_TITLES = [
    "{A_adj_cap} {method} for {task} under {condition}",
    "Revisiting {method} for {task}",
    "{Method_cap} under {condition}: theory and experiments",
    "Efficient {task} via {adj} {method}",
    "On the robustness of {method} to {condition}",
    "{Adj_cap} {task} with {method}",
]

# Names: ASCII, accented Latin and CJK, so that encodings get exercised.
_FIRST = [
    "John", "Maria", "David", "Anna", "Michael", "Laura", "Wei", "Li", "Hiroshi", "Ahmed",
    "Fatima", "Carlos", "Elena", "Peter", "Sarah", "Raj", "Priya", "Olga", "Ivan", "Thomas",
    "James", "Emily", "Daniel", "Sofia", "Mohammed", "Yuki", "Kenji", "Ana", "Lucas", "Nina",
    "José", "Zoë", "Łukasz", "Søren", "Ángel", "François", "Jürgen", "Björn", "Núria",
    "Çağlar", "Ólafur", "Dóra", "Małgorzata", "Chloé", "Inês", "Noémie", "Jiří", "Renée",
    "André", "Håkon",
]
_LAST = [
    "Smith", "Johnson", "Brown", "Garcia", "Nguyen", "Kowalski", "Rossi", "Wang", "Zhang",
    "Chen", "Kim", "Patel", "Singh", "Tanaka", "Silva", "Schmidt", "Ivanov", "Murphy",
    "Hughes", "Lee", "Martin", "Novak", "Khan", "Fischer", "Costa", "Li", "Liu", "Yamamoto",
    "Müller", "Dvořák", "García", "Ibáñez", "Şahin", "Núñez", "Sørensen", "Lefèvre",
    "Gonçalves", "Štěpánek", "Jönsson", "Kühn", "Pérez", "Yılmaz", "O'Brien", "Ødegård",
    "Wałęsa", "Márquez", "Björk",
]
_CJK_NAMES = [
    "王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "佐藤 健", "鈴木 一郎", "高橋 美咲",
    "田中 陽子", "김민준", "이서연", "박지훈",
]

# Numeric slots: fresh value at every use.
def _pick(r: Callable[[], float], seq: Sequence):
    """Uniform choice driven by ``r = rng.random`` (much cheaper than ``rng.choice``)."""
    return seq[int(r() * len(seq))]


def _int(r: Callable[[], float], lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]``."""
    return lo + int(r() * (hi - lo + 1))


_NUMERIC: dict[str, Callable[[Callable[[], float]], str]] = {
    "n": lambda r: str(int(10 ** (2.0 + 2.5 * r()))),
    "n_small": lambda r: str(12 + int(r() * 469)),
    "n_sites": lambda r: str(2 + int(r() * 39)),
    "years": lambda r: str(2 + int(r() * 24)),
    "k": lambda r: ("3", "5", "10")[int(r() * 3)],
    "n_base": lambda r: str(3 + int(r() * 7)),
    "n_boot": lambda r: ("200", "500", "1000", "2000")[int(r() * 4)],
    "n_rep": lambda r: ("5", "10", "20", "50", "100")[int(r() * 5)],
    "score": lambda r: f"0.{70 + int(r() * 29)}",
    "sd": lambda r: f"0.0{1 + int(r() * 9)}",
    "pct": lambda r: f"{1.0 + 39.0 * r():.1f}",
    "p": lambda r: ("0.05", "0.01", "0.001")[int(r() * 3)],
    "thr": lambda r: f"0.{2 + int(r() * 7)}",
    "ms": lambda r: str(2 + int(r() * 399)),
    "lat": lambda r: str(5 + int(r() * 896)),
    "kappa": lambda r: str(61 + int(r() * 34)),
    "factor": lambda r: str(2 + int(r() * 29)),
    "temp": lambda r: str((25, 37, 60, 80, 120, 150, 300, 450, 600)[int(r() * 9)]),
    "conc": lambda r: str((0.5, 1, 2, 5, 10, 20, 50, 100)[int(r() * 8)]),
    "ph": lambda r: f"{4.0 + 5.0 * r():.1f}",
    "cap": lambda r: str(90 + int(r() * 191)),
    "fs": lambda r: str((50, 100, 128, 250, 256, 360, 500, 1000)[int(r() * 8)]),
    "win": lambda r: str((100, 250, 500, 1000, 2000)[int(r() * 5)]),
    "overlap": lambda r: str((25, 50, 75)[int(r() * 3)]),
    "fa": lambda r: f"{0.1 + 4.9 * r():.1f}",
    "params": lambda r: f"{0.5 + 89.5 * r():.1f}",
    "fps": lambda r: str(5 + int(r() * 116)),
    "vars": lambda r: str(int(10 ** (3.0 + 3.0 * r()))),
    "sec": lambda r: str((1, 2, 5, 10, 30, 60, 120, 300)[int(r() * 8)]),
    "gap": lambda r: f"{0.1 + 2.9 * r():.1f}",
    "r0": lambda r: f"{1.1 + 2.4 * r():.2f}",
    "r0lo": lambda r: f"{0.9 + 0.2 * r():.2f}",
    "r0hi": lambda r: f"{3.5 + 1.0 * r():.2f}",
    "depth": lambda r: str((10, 20, 30, 60, 100)[int(r() * 5)]),
    "chrom": lambda r: str(1 + int(r() * 12)),
    "mpa": lambda r: str(8 + int(r() * 1393)),
    "pore": lambda r: str(20 + int(r() * 131)),
    "pore2": lambda r: str(200 + int(r() * 701)),
    "hours": lambda r: str(1 + int(r() * 48)),
    "days": lambda r: str((3, 7, 14, 21, 28)[int(r() * 5)]),
    "kb": lambda r: str((32, 64, 128, 256, 512)[int(r() * 5)]),
    "mm": lambda r: f"{0.1 + 4.9 * r():.2f}",
    "mm2": lambda r: f"{0.05 + 0.95 * r():.2f}",
    "n_act": lambda r: str(2 + int(r() * 11)),
    "n_users": lambda r: str(8 + int(r() * 33)),
    "weeks": lambda r: str(2 + int(r() * 11)),
    "px": lambda r: str((224, 256, 512)[int(r() * 3)]),
    "px2": lambda r: str(12 + int(r() * 88)),
    "mag": lambda r: str((10, 20, 40, 100)[int(r() * 4)]),
    "tok": lambda r: str((128, 256, 512, 1024)[int(r() * 4)]),
}
_GLOBAL_SLOTS: dict[str, list[str]] = {"adj": _ADJ, "condition": _CONDITION}


class _Slots(dict):
    """Lazy slot values for ``str.format_map``: topic/domain words fixed per row,
    numbers fresh at every use, ``*_cap`` keys capitalised."""

    __slots__ = ("_r", "_pair", "_dom")

    def __init__(self, r: Callable[[], float], pair: dict, dom: dict) -> None:
        super().__init__()
        self._r = r
        self._pair = pair
        self._dom = dom

    def __missing__(self, key: str) -> str:
        gen = _NUMERIC.get(key)
        if gen is not None:
            return gen(self._r)
        if key.endswith("_cap"):
            value = self[key[:-4].lower()]
            return value[:1].upper() + value[1:]
        r = self._r
        if key == "a_adj":
            adj = self["adj"]
            value = ("an " if adj[0] in "aeiou" else "a ") + adj
        elif key == "method2":
            methods = self._pair["method"]
            first = methods.index(self["method"])
            value = methods[(first + 1 + int(r() * (len(methods) - 1))) % len(methods)]
        elif key in self._dom:
            value = _pick(r, self._dom[key])
        elif key in self._pair:
            value = _pick(r, self._pair[key])
        else:
            value = _pick(r, _GLOBAL_SLOTS[key])  # KeyError for an unknown slot
        self[key] = value
        return value


def _cum(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _bucket(cum: Sequence[float], u: float) -> int:
    i = 0
    while cum[i] < u:
        i += 1
    return i


def _sample(r: Callable[[], float], seq: Sequence, k: int) -> list:
    """``k`` distinct items of ``seq`` in random order (all of them if ``k >= len(seq)``)."""
    pool = list(seq)
    return [pool.pop(int(r() * len(pool))) for _ in range(min(k, len(pool)))]


_MODE_CUM = _cum(_MODE_WEIGHTS)
_PAIR_CUM = _cum([1.0] * len(_PAIRS))
_LOG_MEDIAN = math.log(_LENGTH_MEDIAN)
for _pair in _PAIRS:  # sentence pools, built once
    _pair["method_pool"] = _pair["sents"] + _GENERIC_METHOD
    for _side in ("med", "non"):
        _pair[_side]["domain_pool"] = _pair[_side]["sents"] + _DOMAIN_TEMPLATES
del _pair, _side
_ONE_SENTENCE_GENERIC = _GENERIC_INTROS + _GENERIC_METHOD


def _authors(r: Callable[[], float]) -> str:
    k = min(1 + int(-3.2 * math.log(1.0 - r())), 14)  # geometric-like, mean ~3.7
    names = []
    for _ in range(k):
        u = r()
        if u < 0.12:
            names.append(_pick(r, _CJK_NAMES))
        elif u < 0.30:
            names.append(f"{_pick(r, _FIRST)[0]}. {_pick(r, _LAST)}")
        else:
            names.append(f"{_pick(r, _FIRST)} {_pick(r, _LAST)}")
    if r() < _P_REPEATED_AUTHORS:
        names = names + names  # as in the real files: "A, B, C, A, B, C"
    return ", ".join(names)


def _keywords(r: Callable[[], float], pair: dict, dom: dict, mode: str) -> str:
    if r() < _P_EMPTY_KEYWORDS:
        return ""
    if mode == "strong":
        n_dom = _int(r, 1, 3)
    elif mode == "medium":
        n_dom = _int(r, 0, 1)
    else:
        n_dom = 0
    kws = _sample(r, pair["kw"], 1 + int(r() * 3))
    for kw in _sample(r, dom["kw"], n_dom):  # domain keywords at random positions
        kws.insert(int(r() * (len(kws) + 1)), kw)
    return ", ".join(kws)


def _abstract(rng: random.Random, slots: _Slots, pair: dict, dom: dict, label: int,
              mode: str) -> str:
    r = rng.random
    fmt = str.format_map
    if r() < _P_ONE_SENTENCE:
        if mode in ("strong", "medium"):
            return fmt(_pick(r, dom["domain_pool"]), slots)
        if mode == "weak":
            return fmt(_pick(r, _WEAK_TEMPLATES), slots)
        return fmt(_pick(r, _ONE_SENTENCE_GENERIC), slots)

    target = math.exp(rng.gauss(_LOG_MEDIAN, _LENGTH_SIGMA))

    # Sentences that must appear somewhere in the body (placed after filling).
    inserts: list[str] = []
    if mode == "medium":
        k = 1 if r() < 0.6 else 2
        inserts += [fmt(s, slots) for s in _sample(r, dom["domain_pool"], k)]
    elif mode == "weak":
        inserts.append(fmt(_pick(r, _WEAK_TEMPLATES), slots))
    if r() < _P_CONFOUNDER:
        inserts.append(_pick(r, _CONFOUNDERS_MED if label else _CONFOUNDERS_NON))
    reserved = sum(len(s) + 1 for s in inserts)

    # Pools are copied and drawn from without replacement, one sentence at a time.
    if mode == "strong":
        domain_pool = list(dom["domain_pool"])
        intro_template = _pick(r, _DOMAIN_INTROS)
        domain_pool.remove(intro_template)  # the intros are domain templates too
        intro = fmt(intro_template, slots)
        pools = [list(pair["method_pool"]), list(_GENERIC_RESULTS), domain_pool]
        cum: tuple[float, ...] = (0.33, 0.6, 1.0)
    else:
        intro = fmt(_pick(r, _GENERIC_INTROS), slots)
        pools = [list(pair["method_pool"]), list(_GENERIC_RESULTS)]
        cum = (0.55, 1.0)
    out = [intro]
    length = len(intro) + reserved
    while length < target:
        pool = pools[_bucket(cum, r())]
        if not pool:
            pool = next((p for p in pools if p), None)
            if pool is None:
                break
        sent = fmt(pool.pop(int(r() * len(pool))), slots)
        if length + len(sent) + 1 > MAX_ABSTRACT_CHARS:
            break
        out.append(sent)
        length += len(sent) + 1
    if r() < 0.5:
        sent = fmt(_pick(r, _CONCLUSIONS), slots)
        if length + len(sent) + 1 <= MAX_ABSTRACT_CHARS:
            out.append(sent)
    for sent in inserts:
        out.insert(1 + int(r() * len(out)), sent)
    return " ".join(out)


def _row(rng: random.Random) -> tuple[str, str, str, str, int]:
    r = rng.random
    pair = _PAIRS[_bucket(_PAIR_CUM, r())]
    label = 1 if r() < pair["prior"] else 0
    dom = pair["med"] if label else pair["non"]
    mode = _MODES[_bucket(_MODE_CUM, r())]
    slots = _Slots(r, pair, dom)
    slots["method"] = _pick(r, pair["method"])
    if mode == "strong" or (mode == "medium" and r() < 0.5):
        title = _pick(r, _DOMAIN_TITLES).format_map(slots)
    else:
        title = _pick(r, _GENERIC_TITLES).format_map(slots)
    abstract = _abstract(rng, slots, pair, dom, label, mode)
    return title, _authors(r), abstract, _keywords(r, pair, dom, mode), label


def _rng(seed: int, part: str) -> random.Random:
    # str seeds are hashed with SHA-512 by `random`: stable across runs and platforms.
    return random.Random(f"papercls.sample/{int(seed)}/{part}")


def generate(n: int, seed: int = 0, labelled: bool = True, noise: float = 0.03) -> pd.DataFrame:
    """Return ``n`` synthetic papers.

    With ``labelled=True`` the columns are :data:`TRAIN_COLUMNS` and a fraction ``noise``
    of the labels (in expectation) is flipped; otherwise they are :data:`TEST_COLUMNS` and,
    like the real test file, one or two abstracts are empty (n >= 100). Train and test
    frames drawn with the same seed come from different random streams (different uuids).
    The texts do not depend on ``noise``: only the labels change.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    part = "train" if labelled else "test"
    rng = _rng(seed, part)
    titles: list[str] = []
    authors: list[str] = []
    abstracts: list[str] = []
    keywords: list[str] = []
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        t, a, ab, kw, y = _row(rng)
        titles.append(t)
        authors.append(a)
        abstracts.append(ab)
        keywords.append(kw)
        labels[i] = y

    id_rng = _rng(seed, part + "/uuid")
    uuids: list[str] = []
    seen: set[str] = set()
    while len(uuids) < n:
        u = str(uuid.UUID(int=id_rng.getrandbits(128), version=4))
        if u not in seen:
            seen.add(u)
            uuids.append(u)

    if labelled:
        noise_rng = np.random.default_rng(
            np.frombuffer(_rng(seed, part + "/noise").randbytes(16), dtype=np.uint32)
        )
        flip = noise_rng.random(n) < noise
        labels = np.where(flip, 1 - labels, labels).astype(np.int64)
    else:
        n_empty = min(2, n // 100)
        for i in _rng(seed, part + "/empty").sample(range(n), n_empty):
            abstracts[i] = ""

    data = {
        "uuid": uuids,
        "title": titles,
        "author": authors,
        "abstract": abstracts,
        "Keywords": keywords,
    }
    if labelled:
        data["label"] = labels
    return pd.DataFrame(data, columns=list(TRAIN_COLUMNS if labelled else TEST_COLUMNS))


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            df.to_csv(fh, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_sample(out_dir: Path, n_train: int = 1500, n_test: int = 500,
                 seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """Write ``train.csv`` (labelled) and ``test.csv`` (unlabelled) under ``out_dir``.

    Files are written atomically (temp file in the same folder, then ``os.replace``) and are
    byte-identical for the same arguments. Returns ``(train_path, test_path)``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path = out_dir / "train.csv"
    test_path = out_dir / "test.csv"
    _write_csv_atomic(generate(n_train, seed=seed, labelled=True), train_path)
    _write_csv_atomic(generate(n_test, seed=seed, labelled=False), test_path)
    return train_path, test_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m papercls.sample",
        description="Write a deterministic synthetic corpus (train.csv, test.csv).",
    )
    parser.add_argument("--out", type=Path, default=Path("data/sample"),
                        help="output folder (default: data/sample)")
    parser.add_argument("--n-train", type=int, default=1500, help="labelled rows (1500)")
    parser.add_argument("--n-test", type=int, default=500, help="unlabelled rows (500)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed ({DEFAULT_SEED})")
    args = parser.parse_args(argv)
    if args.n_train < 0 or args.n_test < 0:
        parser.error("--n-train and --n-test must be >= 0")
    train_path, test_path = write_sample(args.out, args.n_train, args.n_test, args.seed)
    print(f"wrote {train_path} ({args.n_train} rows) and {test_path} ({args.n_test} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
