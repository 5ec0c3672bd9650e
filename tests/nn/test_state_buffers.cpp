// RowBuffer and RingBuffer (nn/state_buffers.h), the buffers of the layers' decode states.
#include <gtest/gtest.h>

#include "core/error.h"
#include "nn/state_buffers.h"

namespace tinyr2::nn {

namespace {

TEST(RowBuffer, AppendsGrowsAndDropsRows) {
  RowBuffer b({2, 3}, 100);
  for (int i = 0; i < 40; ++i) b.append(Tensor::full({1, 1, 2, 3}, static_cast<float>(i)));
  EXPECT_EQ(b.rows(), 40);
  EXPECT_EQ(b.view().shape(), (Shape{1, 40, 2, 3}));
  EXPECT_EQ(b.view(5, 7).data()[0], 5.f);
  b.drop_front(30);
  EXPECT_EQ(b.rows(), 10);
  EXPECT_EQ(b.view().data()[0], 30.f);
  EXPECT_EQ(b.matrix().data()[9 * 6 + 5], 39.f);
  EXPECT_THROW(b.append(Tensor::zeros({91, 6})), Error);  // past max_rows
}

TEST(RingBuffer, KeepsTheLastRowsInSlotOrder) {
  RingBuffer r({2}, 3);
  for (int i = 0; i < 5; ++i) r.push(Tensor::full({1, 2}, static_cast<float>(i)));
  EXPECT_EQ(r.total(), 5);
  EXPECT_EQ(r.size(), 3);
  const Tensor slots = r.slots();  // rows 3, 4 in slots 0, 1; row 2 in slot 2
  EXPECT_EQ(slots.data()[0], 3.f);
  EXPECT_EQ(slots.data()[2], 4.f);
  EXPECT_EQ(slots.data()[4], 2.f);
  const Tensor last = r.last(3);
  EXPECT_EQ(last.data()[0], 2.f);
  EXPECT_EQ(last.data()[2], 3.f);
  EXPECT_EQ(last.data()[4], 4.f);
  r.push(Tensor::from_vector({4, 2}, {10, 10, 11, 11, 12, 12, 13, 13}));  // more rows than slots
  EXPECT_EQ(r.last(3).data()[0], 11.f);
  EXPECT_EQ(r.last(3).data()[4], 13.f);
}

}  // namespace

}  // namespace tinyr2::nn
