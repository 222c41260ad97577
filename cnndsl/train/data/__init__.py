"""The data sets `--data` names, from the files on disk to uint8 batches on the device.

sources.py picks the loader for a data set; torchvision_sets.py, imagefolder.py, idx.py and
safe_pickle.py read files strictly; cache.py keeps decoded data sets; images.py is the
in-memory form every loader returns; adapt.py fits images to a network's input, augment.py
varies them, batches.py holds a split on the device and draws batches from it.
"""
