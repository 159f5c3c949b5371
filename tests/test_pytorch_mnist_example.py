"""PyTorch-style training code runs unchanged with `import tinygrad_lite as torch`: the spellings
of PyTorch's official MNIST example (pytorch/examples, mnist/main.py: its network, its train and
test loops, Adadelta with StepLR, device selection), written here as such code is, trained for a
bounded number of batches on the bundled MNIST. (The measurement of the example itself, file
unchanged but for imports and data, is in the report of issue 10; its code is not copied here.)"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as torch
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F
import tinygrad_lite.optim as optim
from tinygrad_lite.data import DataLoader, TensorDataset, mnist
from tinygrad_lite.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def _loader(split, n, batch_size):
    x, y = mnist.load(split)
    x = ((x[:n, None] - np.float32(0.1307)) / np.float32(0.3081)).astype(np.float32)
    return DataLoader(TensorDataset(x, y[:n]), batch_size=batch_size)


@pytest.mark.slow
def test_pytorch_mnist_example_spellings_train_and_test():
    use_cuda = torch.cuda.is_available()
    use_mps = torch.backends.mps.is_available()
    assert not use_cuda and not use_mps
    torch.manual_seed(1)
    device = torch.device("cpu")
    train_loader, test_loader = _loader("train", 1280, 64), _loader("test", 1000, 500)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    model.train()
    losses = []
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(0.7)]
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    assert np.mean(losses[:3]) > 1.5 > np.mean(losses[-3:])  # it learns
    assert correct >= 750, f"{correct}/1000 correct after 20 batches"
    assert test_loss / 1000 < 1.0
